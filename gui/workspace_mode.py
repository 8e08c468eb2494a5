"""What compare mode and the run folder share: a view that takes the window's workspace
while its mode is on and gives it back with the window's decode, model and docks
untouched.

``WorkspaceMode`` holds the menu action, the view in the window's workspace stack
(built the first time it is needed: most windows never show it, and its plots cost a
tenth of a second or more of the start-up), the docks that make way while it shows (gui/compare_focus.py), the tidy-up whenever
the view gives way (Leave, or the window showing a newly opened model's workspace),
and the end of the mode's worker thread when the window closes. The modes add their
worker, their requests and what they stop when the view gives way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStackedWidget, QWidget

from attnscope.gui.compare_focus import DockFocus
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState

log = logging.getLogger(__name__)


class WorkspaceMode(QObject):
    """A mode with a view of its own in the window's workspace area; one at a time."""

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        make_view: Callable[[], QWidget],
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
        self._make_view = make_view
        self._view: QWidget | None = None  # built on first use (``view``)
        self.client = None  # the mode's worker client, made on first use
        self._previous: QWidget | None = None
        self._shown = False  # the view is (or was until this moment) the workspace
        self._focus = DockFocus(parent)
        self.before_enter: Callable[[], None] = lambda: None  # leaves the other mode
        workspaces.currentChanged.connect(self._on_workspace_changed)
        parent.installEventFilter(self)  # the worker thread ends when the window closes

    def _make_action(self, text: str, shortcut: str, tip: str) -> QAction:
        """The menu action that enters the mode, its key in its tooltip."""
        action = QAction(text, self._window)
        action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip} ({action.shortcut().toString()})")
        action.setStatusTip(tip)
        return action

    @property
    def view(self) -> QWidget:
        """The mode's view, built and put in the workspace stack on first use."""
        if self._view is None:
            self._view = view = self._make_view()
            view.setEnabled(False)  # its shortcuts stay off until the mode is on
            self._workspaces.addWidget(view)
            self._wire_view(view)
        return self._view

    def _wire_view(self, view: QWidget) -> None:
        """Connect the mode to its newly built view."""

    @property
    def active(self) -> bool:
        return self._view is not None and self._workspaces.currentWidget() is self._view

    def leave(self) -> None:
        """Back to the single view exactly as it was."""
        if self.active:
            self._workspaces.setCurrentWidget(self._previous)  # _on_workspace_changed tidies

    def _show_view(self) -> None:
        """The view takes the workspace (the other mode leaves first) and the keys; the
        docks make way for it."""
        if not self.active:
            self.before_enter()
            self._previous = self._workspaces.currentWidget()
            self._workspaces.setCurrentWidget(self.view)
            self._shown = True
            self._focus.hide_docks()  # the view needs the width
        self.view.setEnabled(True)
        self.action.setEnabled(False)  # its key leaves the mode now

    def _on_workspace_changed(self, _index: int) -> None:
        """The view gave way: the mode's work stops, the window gets its docks back."""
        if not self._shown or self.active:
            return
        self._shown = False
        self.view.setEnabled(False)
        self._focus.restore_docks()
        self.action.setEnabled(True)
        self._gave_way()

    def _gave_way(self) -> None:
        """What the mode stops when its view gives way."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        closing = watched is self._window and event.type() == QEvent.Close
        if closing and self.client is not None and not self.client.shutdown():
            log.warning("the worker of %s did not stop in time", type(self).__name__)
        return False
