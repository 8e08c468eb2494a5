"""File > Recent: the last checkpoints opened, kept in QSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

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
