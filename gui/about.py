"""Help > About: the version and every keyboard shortcut, read off the menu bar itself
(so the list cannot fall behind the actions it describes)."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QMessageBox, QWidget

# gestures that are not menu actions
OTHER_ROWS = (
    ("Paste a picture to caption", "Ctrl+V"),
    ("Force a candidate token", "double-click it"),
    ("Zoom the beam tree", "Ctrl+wheel"),
)


def shortcut_rows(menu_bar: QMenuBar) -> list[tuple[str, str]]:
    """(action, shortcut) for every menu action that has a shortcut, in menu order."""
    rows, seen = [], set()

    def walk(menu: QMenu) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())
                continue
            keys = action.shortcut().toString(QKeySequence.NativeText)
            name = action.text().replace("&", "").rstrip("…").strip()
            if keys and name not in seen:
                seen.add(name)
                rows.append((name, keys))

    for action in menu_bar.actions():
        if action.menu() is not None:
            walk(action.menu())
    return rows


def show_about(parent: QWidget, menu_bar: QMenuBar) -> None:
    """The About box over ``parent``, with the shortcuts of ``menu_bar``'s menus."""
    from attnscope import __version__

    table = "".join(
        f"<tr><td>{name}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>"
        for name, keys in (*shortcut_rows(menu_bar), *OTHER_ROWS)
    )
    QMessageBox.about(
        parent,
        "About AttnScope",
        f"<b>AttnScope {__version__}</b><p>Step through encoder–decoder models and watch "
        f"where they attend.</p><p>Keyboard shortcuts:</p><table>{table}</table>",
    )
