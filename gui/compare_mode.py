"""Compare mode: a second checkpoint (or Hugging Face model folder) of the same task
decodes the window's input beside the first, in lockstep, in the window's own workspace
area.

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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QStackedWidget, QWidget

from attnscope.gui.compare_view import CompareView
from attnscope.gui.compare_worker import CompareClient
from attnscope.gui.decode_controls import DecodeActions
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.epoch_mode import EpochMode
from attnscope.gui.session_files import CHECKPOINT_FILTER
from attnscope.gui.workspace_mode import WorkspaceMode

NO_MODEL_YET = "Open a model (checkpoint or folder) first, then compare another with it."


class CompareMode(WorkspaceMode):
    """The window's compare mode: enter with a checkpoint, leave with nothing lost."""

    entered = Signal()  # the compare view is shown (both models loaded)
    left = Signal()
    pairShown = Signal(object)  # a ComparePair the view just drew (tests, screenshots)

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        *,
        decode_actions: DecodeActions,
        **window: Any,
    ) -> None:
        """``window``: the WorkspaceMode's workspaces, device, show_message and parent."""
        super().__init__(state, requests, CompareView, **window)
        self._decode_actions = decode_actions
        self.client: CompareClient | None = None
        self._opened_source = None  # the source the open pair decodes
        self._opened_config = None  # and its DecodeConfig
        self.action = self._make_action(
            "&Compare with checkpoint…",
            "Ctrl+Shift+C",
            "Decode the same input with a second checkpoint, side by side",
        )
        self.action.triggered.connect(self.choose)
        self.folder_action = self._make_action(
            "Compare with &folder…",
            "Ctrl+Alt+Shift+C",
            "Decode the same input with a Hugging Face model folder, side by side",
        )
        self.folder_action.triggered.connect(self.choose_folder)
        # like ``action``, unavailable while the mode is shown
        self.entered.connect(lambda: self.folder_action.setEnabled(False))
        self.left.connect(lambda: self.folder_action.setEnabled(True))

    def _wire_view(self, view: CompareView) -> None:
        view.stepRequested.connect(self.step)
        view.runToggled.connect(self._on_run_toggled)
        view.backRequested.connect(lambda: self._client().back())
        view.resetRequested.connect(lambda: self._client().reset())
        view.leaveRequested.connect(self.leave)

    def choose(self) -> None:
        """Ask for the second checkpoint, then enter compare mode with it."""
        if self.state.summary is None:
            self._show_message(NO_MODEL_YET, "info")
            return
        start = str(Path(self.state.summary.path).parent)
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Compare with checkpoint", start, CHECKPOINT_FILTER
        )
        if path:
            self.enter(path)

    def choose_folder(self) -> None:
        """Ask for a Hugging Face model folder, then enter compare mode with it."""
        if self.state.summary is None:
            self._show_message(NO_MODEL_YET, "info")
            return
        start = str(Path(self.state.summary.path).parent)
        path = QFileDialog.getExistingDirectory(self._window, "Compare with model folder", start)
        if path:
            self.enter(path)

    def enter(self, path: str | Path) -> None:
        """Load the shown model and ``path`` in the compare worker; the view follows."""
        summary = self.state.summary
        if summary is None:
            self._show_message(NO_MODEL_YET, "info")
            return
        if self._decode_actions.run.isChecked():  # the window's decode stays where it is
            self._decode_actions.run.trigger()
        self._window.statusBar().showMessage(f"Loading {Path(path).name} to compare…")
        self._client().load(summary.path, str(path), self._device())

    def _gave_way(self) -> None:
        """Both decodes stop; the window's Step / Run / Back / Reset take their keys again."""
        self.view.run_action.setChecked(False)  # pauses the pair
        self._decode_actions.set_enabled(True)
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
        self._show_view()
        self._decode_actions.set_enabled(False)  # the view's own actions take the keys
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
    window = dict(workspaces=workspaces, device=device, show_message=show_message, parent=parent)
    compare = CompareMode(state, requests, decode_actions=decode_actions, **window)
    epochs = EpochMode(state, requests, **window)
    compare.before_enter, epochs.before_enter = epochs.leave, compare.leave  # one at a time
    menu.insertActions(before, [compare.action, compare.folder_action, epochs.action])
    menu.insertSeparator(before)
    return compare, epochs
