"""Help > About lists every menu shortcut, read off the menus themselves."""

from PySide6.QtWidgets import QMessageBox

from attnscope.gui.about import OTHER_ROWS, shortcut_rows


def test_every_menu_shortcut_is_listed_once(window):
    rows = shortcut_rows(window.menuBar())
    assert ("Step", "F10") in rows and ("Check a reference", "Ctrl+Shift+E") in rows
    assert ("Open image", "Ctrl+Shift+O") in rows and ("Translate a file", "Ctrl+Shift+T") in rows
    assert len({name for name, _ in rows}) == len(rows)


def test_the_about_box_shows_the_version_and_the_shortcuts(window, monkeypatch):
    from attnscope import __version__

    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window.about()
    (text,) = shown
    assert __version__ in text
    for name, keys in (*shortcut_rows(window.menuBar()), *OTHER_ROWS):
        assert f"<td>{name}</td>" in text and f"<b>{keys}</b>" in text
