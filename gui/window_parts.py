"""The window's debugging parts, built and wired to each other (issue 18).

``DebugTools`` holds the debugger (gui/debugger.py: the Breakpoints dock, stops, raw
scores, the text what-if), the image what-if (gui/image_what_if.py) and, once the
autosave exists, the session files (gui/session_files.py). It connects what they
share: Save session writes the dock's breakpoints and, while the caption view
shows a masked re-caption, that decode with its mask; Open session puts the
file's breakpoints back into the dock. Like the window's other parts it is handed
the state, the worker client, the request state machine and the views; the
window is its parent, for the dock, the status bar and dialogs.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QStackedWidget

from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.debugger import Debugger
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.image_what_if import ImageWhatIf
from attnscope.gui.session_files import SessionFiles
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient


class DebugTools(QObject):
    """The debugger, the image what-if and the session files of one window."""

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        requests: DecodeRequests,
        *,
        views: tuple[TranslateWorkspace, CaptionWorkspace, QStackedWidget],
        settings: QSettings,
        select_step: Callable[[int], None],
        show_message: Callable[..., None],
        parent: QMainWindow,
    ) -> None:
        super().__init__(parent)
        self.state, self.client, self.requests = state, client, requests
        self.views, self._show_message, self._window = views, show_message, parent
        translate_view, caption_view, _ = views
        self.debugger = Debugger(
            state,
            client,
            requests,
            translate_view=translate_view,
            settings=settings,
            select_step=select_step,
            show_message=show_message,
            parent=self,
        )
        self.image_what_if = ImageWhatIf(
            state,
            caption_view,
            client=client,
            worker=client.worker,
            show_message=show_message,
            parent=self,
        )
        self.session_files: SessionFiles | None = None

    def add_breakpoints_dock(self, beside: QDockWidget) -> QDockWidget:
        """The Breakpoints dock as a tab beside ``beside``; the stop message in the status bar."""
        window = self._window
        dock = QDockWidget("Breakpoints", window)
        dock.setObjectName("dock-breakpoints")
        dock.setWidget(self.debugger.dock)
        window.addDockWidget(Qt.RightDockWidgetArea, dock)
        window.tabifyDockWidget(beside, dock)
        beside.raise_()  # a tab beside it, not a column
        window.statusBar().insertPermanentWidget(0, self.debugger.hit_label, 1)
        return dock

    def add_session_files(
        self,
        load_checkpoint: Callable[[str], None],
        menu: QMenu,
        before: QAction | None = None,
    ) -> SessionFiles:
        """File > Open session… / Save session…, saving and restoring what the other
        parts hold (build after the autosave: its replay goes first)."""
        files = SessionFiles(
            self.state,
            self.client,
            self.requests,
            views=self.views,
            load_checkpoint=load_checkpoint,
            show_message=self._show_message,
            parent=self._window,
        )
        files.breakpoints = self.debugger.dock.condition_dicts
        files.masked_decode = self.image_what_if.shown_masked
        files.breakpointsRestored.connect(self.debugger.restore_breakpoints)
        files.add_to_menu(menu, before)
        self.session_files = files
        return files
