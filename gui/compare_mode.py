"""Compare mode: a second checkpoint of the same task decodes the window's input beside
the first, in lockstep, in the window's own workspace area.

``CompareMode`` owns the "Compare with…" action, the CompareView and its worker
(gui/compare_worker.py, a thread and a copy of both models of its own). Entering
loads the shown model and the chosen one, then swaps the workspace for the compare
view and decodes the window's source with the window's decode settings; the window's
Step / Run / Back / Reset are disabled meanwhile (the view has its own, same keys).
Leaving swaps the workspace back: the window's decode, model and docks were never
touched, so nothing is lost. A checkpoint that does not compare (another task,
another language pair, a bad file) is refused with one message and the window stays
as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QStackedWidget, QWidget

from attnscope.gui.compare_focus import DockFocus
from attnscope.gui.compare_view import CompareView
from attnscope.gui.compare_worker import CompareClient
from attnscope.gui.decode_controls import DecodeActions
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.epoch_mode import EpochMode

log = logging.getLogger(__name__)

CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.attnscope *.pt *.pth);;All files (*)"


class CompareMode(QObject):
    """The window's compare mode: enter with a checkpoint, leave with nothing lost."""

    entered = Signal()  # the compare view is shown (both models loaded)
    left = Signal()
    pairShown = Signal(object)  # a ComparePair the view just drew (tests, screenshots)

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        *,
        workspaces: QStackedWidget,
        decode_actions: DecodeActions,
        device: Callable[[], str],
        show_message: Callable[..., None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state, self.requests = state, requests
        self._workspaces, self._decode_actions = workspaces, decode_actions
        self._device, self._show_message, self._window = device, show_message, parent
        self.view = CompareView()
        self.view.setEnabled(False)  # its shortcuts stay off until compare mode is on
        workspaces.addWidget(self.view)
        self.client: CompareClient | None = None
        self._previous: QWidget | None = None
        self._shown = False  # the compare view is (or was until this moment) the workspace
        self._focus = DockFocus(parent)
        self.before_enter: Callable[[], None] = lambda: None  # leaves the run folder's view
        workspaces.currentChanged.connect(self._on_workspace_changed)
        self._opened_source = None  # the source the open pair decodes
        self._opened_config = None  # and its DecodeConfig
        self.action = QAction("&Compare with checkpoint…", parent)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        tip = "Decode the same input with a second checkpoint, side by side"
        self.action.setToolTip(f"{tip} ({self.action.shortcut().toString()})")
        self.action.setStatusTip(tip)
        self.action.triggered.connect(self.choose)
        view = self.view
        view.stepRequested.connect(self.step)
        view.runToggled.connect(self._on_run_toggled)
        view.backRequested.connect(lambda: self._client().back())
        view.resetRequested.connect(lambda: self._client().reset())
        view.leaveRequested.connect(self.leave)
        parent.installEventFilter(self)  # the worker thread ends when the window closes

    @property
    def active(self) -> bool:
        return self._workspaces.currentWidget() is self.view

    def choose(self) -> None:
        """Ask for the second checkpoint, then enter compare mode with it."""
        if self.state.summary is None:
            self._show_message("Open a checkpoint first, then compare another with it.", "info")
            return
        start = str(Path(self.state.summary.path).parent)
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Compare with checkpoint", start, CHECKPOINT_FILTER
        )
        if path:
            self.enter(path)

    def enter(self, path: str | Path) -> None:
        """Load the shown model and ``path`` in the compare worker; the view follows."""
        summary = self.state.summary
        if summary is None:
            self._show_message("Open a checkpoint first, then compare another with it.", "info")
            return
        if self._decode_actions.run.isChecked():  # the window's decode stays where it is
            self._decode_actions.run.trigger()
        self._window.statusBar().showMessage(f"Loading {Path(path).name} to compare…")
        self._client().load(summary.path, str(path), self._device())

    def leave(self) -> None:
        """Back to the single view exactly as it was."""
        if self.active:
            self._workspaces.setCurrentWidget(self._previous)  # _on_workspace_changed tidies

    def _on_workspace_changed(self, _index: int) -> None:
        """The compare view gave way (Leave, or the window showing a newly opened model's
        workspace): both decodes stop, the window gets its keys and docks back."""
        if not self._shown or self.active:
            return
        self._shown = False
        self.view.run_action.setChecked(False)  # pauses the pair
        self.view.setEnabled(False)
        self._focus.restore_docks()
        self._decode_actions.set_enabled(True)
        self.action.setEnabled(True)
        self.left.emit()

    def step(self) -> None:
        self._open_if_changed()
        self._client().step()

    def _on_run_toggled(self, on: bool) -> None:
        if on:
            self._open_if_changed()
            self._client().run()
        else:
            self._client().pause()

    def _open_if_changed(self) -> None:
        """A new pair when the source or the decode settings changed (or none is open)."""
        source, config = self._source(), self.requests.decode_config()
        if isinstance(source, str):
            changed = source != self._opened_source
        else:  # a picture (path, bytes or array): a new one is a new object
            changed = source is not self._opened_source
        if changed or config != self._opened_config:
            self._opened_source, self._opened_config = source, config
            self._client().open_pair(source, config)

    def _source(self):
        if self.state.task == "translation":
            return self.view.source_text()
        return self.requests.current_source()

    def _client(self) -> CompareClient:
        if self.client is None:
            self.client = CompareClient(self)
            worker = self.client.worker
            worker.loaded.connect(self._on_loaded)
            worker.loadFailed.connect(self._on_load_failed)
            worker.pair.connect(self._on_pair)
            worker.failed.connect(self._on_failed)
            worker.busy.connect(self._on_busy)
        return self.client

    def _on_loaded(self, summary_a, summary_b) -> None:
        self._window.statusBar().showMessage(
            f"Comparing {summary_a.name} with {summary_b.name}", 4000
        )
        self.view.set_models(summary_a, summary_b)
        if summary_a.task == "translation":
            self.view.set_source_text(self.requests.current_source() or "")
        if not self.active:
            self.before_enter()
            self._previous = self._workspaces.currentWidget()
            self._workspaces.setCurrentWidget(self.view)
            self._shown = True
            self._focus.hide_docks()  # the two views need the width
        self.view.setEnabled(True)
        self._decode_actions.set_enabled(False)  # the view's own actions take the keys
        self.action.setEnabled(False)  # its key leaves compare mode now
        self._opened_source = None
        self.entered.emit()
        self.view.run_action.setChecked(True)  # the first screen shows both decodes

    def _on_load_failed(self, message: str) -> None:
        self._window.statusBar().clearMessage()
        self._show_message(f"Cannot compare: {message}", "warning")

    def _on_pair(self, pair) -> None:
        self.view.show_pair(pair)
        self.pairShown.emit(pair)

    def _on_busy(self, busy: bool) -> None:
        """A busy cursor over the view while the worker loads, decodes or cross-scores."""
        if busy:
            self.view.setCursor(Qt.BusyCursor)
        else:
            self.view.unsetCursor()

    def _on_failed(self, message: str) -> None:
        self.view.run_action.setChecked(False)
        self._show_message(message, "error")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        closing = watched is self._window and event.type() == QEvent.Close
        if closing and self.client is not None and not self.client.shutdown():
            log.warning("the compare worker did not stop in time")
        return False


def add_compare_modes(
    state: DecodeState,
    requests: DecodeRequests,
    *,
    workspaces: QStackedWidget,
    decode_actions: DecodeActions,
    device: Callable[[], str],
    show_message: Callable[..., None],
    menu: QMenu,
    before: QAction,
    parent: QWidget,
) -> tuple[CompareMode, EpochMode]:
    """Compare mode and the run-folder mode of one window (issue 19), their actions put
    in ``menu`` before ``before``."""
    compare = CompareMode(
        state,
        requests,
        workspaces=workspaces,
        decode_actions=decode_actions,
        device=device,
        show_message=show_message,
        parent=parent,
    )
    epochs = EpochMode(
        state,
        requests,
        workspaces=workspaces,
        device=device,
        show_message=show_message,
        parent=parent,
    )
    compare.before_enter, epochs.before_enter = epochs.leave, compare.leave  # one at a time
    menu.insertActions(before, [compare.action, epochs.action])
    menu.insertSeparator(before)
    return compare, epochs
