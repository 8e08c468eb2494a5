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

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog

from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.epoch_view import EpochView
from attnscope.gui.epoch_worker import EpochClient
from attnscope.gui.workspace_mode import WorkspaceMode


class EpochMode(WorkspaceMode):
    """The window's run-folder mode: open a run, trace, slide through epochs, leave."""

    traced = Signal(object)  # the EpochTrace the view just drew (tests, screenshots)

    def __init__(self, state: DecodeState, requests: DecodeRequests, **window: Any) -> None:
        """``window``: the WorkspaceMode's workspaces, device, show_message and parent."""
        super().__init__(state, requests, EpochView, **window)
        self.client: EpochClient | None = None
        self.folder: str | None = None
        self._source = None
        self.action = self._make_action(
            "Open r&un folder…",
            "Ctrl+Alt+R",
            "Show one input's attention across the kept epochs of a training run",
        )
        self.action.triggered.connect(self.choose)

    def _wire_view(self, view: EpochView) -> None:
        view.traceRequested.connect(self._retrace)
        view.cancelRequested.connect(lambda: self._client().cancel())
        view.exportRequested.connect(self.export_dialog)
        view.leaveRequested.connect(self.leave)

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
        self._show_view()
        self._retrace(self.view.reference.text().strip())

    def _gave_way(self) -> None:
        """A running trace stops."""
        if self.client is not None:
            self.client.cancel()
        self.view.play_button.setChecked(False)

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
