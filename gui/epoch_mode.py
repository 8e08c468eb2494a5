"""File > Open run folder…: one input's attention across the epochs of a training run.

``EpochMode`` owns the action, the EpochView (gui/epoch_view.py) and its worker
(gui/epoch_worker.py). Opening a folder swaps the window's workspace for the view
and traces the window's source (the text, or the picture) through the run's kept
epochs with the window's decode settings; a reference typed in the view is traced
instead. Leaving swaps the workspace back, the window's decode untouched. A folder
that holds no usable epoch, or an input the final epoch refuses, gets one message;
skipped epoch files are listed in the view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QStackedWidget, QWidget

from attnscope.gui.compare_focus import DockFocus
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.epoch_view import EpochView
from attnscope.gui.epoch_worker import EpochClient

log = logging.getLogger(__name__)


class EpochMode(QObject):
    """The window's run-folder mode: open a run, trace, slide through epochs, leave."""

    traced = Signal(object)  # the EpochTrace the view just drew (tests, screenshots)

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        *,
        workspaces: QStackedWidget,
        device: Callable[[], str],
        show_message: Callable[..., None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state, self.requests = state, requests
        self._workspaces, self._device = workspaces, device
        self._show_message, self._window = show_message, parent
        self.view = EpochView()
        self.view.setEnabled(False)  # its keys stay off until a run is open
        workspaces.addWidget(self.view)
        self.client: EpochClient | None = None
        self.folder: str | None = None
        self._source = None
        self._previous: QWidget | None = None
        self._shown = False  # the run view is (or was until this moment) the workspace
        self._focus = DockFocus(parent)
        self.before_enter: Callable[[], None] = lambda: None  # leaves compare mode
        workspaces.currentChanged.connect(self._on_workspace_changed)
        self.action = QAction("Open r&un folder…", parent)
        self.action.setShortcut(QKeySequence("Ctrl+Alt+R"))
        tip = "Show one input's attention across the kept epochs of a training run"
        self.action.setToolTip(f"{tip} ({self.action.shortcut().toString()})")
        self.action.setStatusTip(tip)
        self.action.triggered.connect(self.choose)
        self.view.traceRequested.connect(self._retrace)
        self.view.cancelRequested.connect(lambda: self._client().cancel())
        self.view.exportRequested.connect(self.export_dialog)
        self.view.leaveRequested.connect(self.leave)
        parent.installEventFilter(self)  # the worker thread ends when the window closes

    @property
    def active(self) -> bool:
        return self._workspaces.currentWidget() is self.view

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._window, "Open run folder")
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str | Path) -> None:
        """Show the run view and trace the window's current input through ``folder``."""
        source = self.requests.current_source() if self.state.summary is not None else None
        if source is None or (isinstance(source, str) and not source.strip()):
            self._show_message(
                "Open a model and give it an input first: the run traces that input "
                "through its epochs.",
                "info",
            )
            return
        self.folder, self._source = str(folder), source
        if not self.active:
            self.before_enter()
            self._previous = self._workspaces.currentWidget()
            self._workspaces.setCurrentWidget(self.view)
            self._shown = True
            self._focus.hide_docks()  # the heat map and the curves need the width
        self.view.setEnabled(True)
        self.action.setEnabled(False)  # its key leaves the run view now
        self._retrace(self.view.reference.text().strip())

    def leave(self) -> None:
        """Back to the single view exactly as it was (a running trace stops)."""
        if self.active:
            self._workspaces.setCurrentWidget(self._previous)  # _on_workspace_changed tidies

    def _on_workspace_changed(self, _index: int) -> None:
        """The run view gave way (Leave, or the window showing a newly opened model's
        workspace): the trace stops, the window gets its docks back."""
        if not self._shown or self.active:
            return
        self._shown = False
        if self.client is not None:
            self.client.cancel()
        self.view.play_button.setChecked(False)
        self.view.setEnabled(False)
        self._focus.restore_docks()
        self.action.setEnabled(True)

    def export_dialog(self) -> None:
        if self.view.trace is None:
            return
        start = str(Path(self.folder or ".") / "attention-over-epochs.gif")
        path, _ = QFileDialog.getSaveFileName(self._window, "Export GIF", start, "GIF (*.gif)")
        if path:
            self.export_gif(path)

    def export_gif(self, path: str | Path) -> Path | None:
        """Write the heat map over the epochs to ``path``; a refusal is a message."""
        from attnscope.engine.errors import AttnScopeError
        from attnscope.gui.epoch_gif import write_epoch_gif

        trace = self.view.trace
        stack = trace.attention_stack() if trace is not None else None
        if stack is None:
            self._show_message("This run's model has no attention to export.", "info")
            return None
        try:
            written = write_epoch_gif(
                path,
                stack,
                [e.epoch for e in trace.epochs],
                self.view.heatmap.source_tokens(),
                self.view.heatmap.target_tokens(),
                colormap_name=self.view.heatmap.colormap_name(),
            )
        except (AttnScopeError, ValueError) as exc:
            self._show_message(f"Could not export the GIF: {exc}", "error")
            return None
        self._window.statusBar().showMessage(f"Saved {written}", 4000)
        return written

    def _retrace(self, reference: str) -> None:
        if self.folder is None:
            return
        self.view.start_tracing(self.folder)
        config = self.requests.decode_config()
        self._client().trace(self.folder, self._source, reference or None, config, self._device())

    def _client(self) -> EpochClient:
        if self.client is None:
            self.client = EpochClient(self)
            worker = self.client.worker
            worker.runRead.connect(self.view.show_run)
            worker.progress.connect(self.view.show_progress)
            worker.traced.connect(self._on_traced)
            worker.failed.connect(self._on_failed)
            worker.cancelled.connect(self._on_cancelled)
        return self.client

    def _on_traced(self, trace) -> None:
        shown = self.state.snapshot  # a captioner's picture: the window's decode holds it
        image = shown.image if trace.grid is not None and shown is not None else None
        self.view.show_trace(trace, image)
        if trace.skipped:
            self._show_message(
                f"{len(trace.skipped)} file(s) of the run were skipped: "
                + "; ".join(trace.skipped),
                "warning",
            )
        self.traced.emit(trace)

    def _on_failed(self, message: str) -> None:
        self.view.stop_tracing(f"Could not trace this run: {message}")
        self._show_message(f"Could not trace the run: {message}", "error")

    def _on_cancelled(self) -> None:
        self.view.stop_tracing("Tracing stopped.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        closing = watched is self._window and event.type() == QEvent.Close
        if closing and self.client is not None and not self.client.shutdown():
            log.warning("the run folder's worker did not stop in time")
        return False
