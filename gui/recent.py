"""File > Open recent: the last checkpoints and model folders opened, kept in QSettings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu

MAX_RECENT = 8


class RecentFiles:
    def __init__(self, settings: QSettings) -> None:
        self.settings = settings

    def paths(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):  # QSettings returns a bare string for one item
            value = [value]
        return [p for p in (value or []) if isinstance(p, str)]

    def add(self, path: str) -> None:
        if not path:
            return
        path = str(Path(path).resolve()) if Path(path).exists() else path
        paths = [path] + [p for p in self.paths() if p != path]
        self.settings.setValue("files/recent", paths[:MAX_RECENT])


class RecentMenu:
    """The menu of ``RecentFiles``, filled each time it opens; an entry opens its file."""

    def __init__(self, menu: QMenu, recent: RecentFiles, open_path: Callable[[str], None]) -> None:
        self.menu, self.recent, self.open_path = menu, recent, open_path
        menu.aboutToShow.connect(self.fill)

    def fill(self) -> None:
        self.menu.clear()
        for path in self.recent.paths():
            folder = Path(path).is_dir()  # a Hugging Face model folder reads as "name/"
            action = self.menu.addAction(Path(path).name + ("/" if folder else ""))
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if not self.recent.paths():
            self.menu.addAction("(none yet)").setEnabled(False)
