"""Compare mode and the run folder take the whole window while they are shown.

Their views have two heat maps (or a heat map and four curves) to fit; the window's
docks (model, candidates, beam tree, ...) describe the single decode, which neither mode
changes. ``DockFocus`` hides the docks that are shown when a mode is entered, but the
decode settings (both modes decode with them), and shows exactly those again when it
is left, so the user's layout comes back as it was.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QMainWindow

KEPT_DOCKS = ("dock-decoding",)  # the decode settings both modes decode with stay at hand


class DockFocus:
    """Hide a window's visible docks (but the decode settings), and later show the same
    docks again."""

    def __init__(self, window: QMainWindow) -> None:
        self._window = window
        self._hidden: list[QDockWidget] = []

    def hide_docks(self) -> None:
        if self._hidden:  # already hidden (a second entry while shown)
            return
        self._hidden = [
            dock
            for dock in self._window.findChildren(QDockWidget)
            if not dock.isHidden() and dock.objectName() not in KEPT_DOCKS
        ]
        for dock in self._hidden:
            dock.hide()

    def restore_docks(self) -> None:
        for dock in self._hidden:
            dock.show()
        self._hidden = []
