"""A row of clickable thumbnails of example pictures (the bundled ones by default).

Thumbnails are read with ``QImageReader`` at thumbnail size after a header
check, so even a large file costs little in the GUI thread; a file that cannot
be read is simply left out of the row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

log = logging.getLogger(__name__)

THUMB_SIDE = 48
MAX_GALLERY_PIXELS = 40_000_000  # a gallery picture declaring more is skipped


def read_thumbnail(path: str | Path, side: int = THUMB_SIDE) -> QPixmap | None:
    """``path`` scaled so its longest side is ``side`` px, or None if unreadable or huge."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()  # from the header only
    if not size.isValid() or size.width() * size.height() > MAX_GALLERY_PIXELS:
        return None
    scale = side / max(size.width(), size.height())
    reader.setScaledSize(
        QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
    )
    image = reader.read()
    if image.isNull():
        log.info("gallery: cannot read %s: %s", path, reader.errorString())
        return None
    return QPixmap.fromImage(image)


class ExampleGallery(QWidget):
    """Thumbnails of ``paths``; ``imageChosen(path)`` when one is clicked."""

    imageChosen = Signal(str)

    def __init__(
        self, paths: Sequence[str | Path] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.buttons: list[QToolButton] = []
        if paths is None:
            from attnscope.engine.resources import example_images

            paths = example_images()
        self.set_paths(paths)

    def set_paths(self, paths: Sequence[str | Path]) -> None:
        """Replace the thumbnails (unreadable files are skipped)."""
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        while self._layout.count():
            self._layout.takeAt(0)
        self.buttons = []
        self._layout.addWidget(QLabel("Examples:"))
        for path in paths:
            pixmap = read_thumbnail(path)
            if pixmap is None:
                continue
            button = QToolButton()
            button.setIcon(QIcon(pixmap))
            button.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
            button.setAutoRaise(True)
            button.setToolTip(f"Caption {Path(path).name}")
            button.setCursor(Qt.PointingHandCursor)
            button.setProperty("path", str(path))
            button.clicked.connect(lambda _=False, p=str(path): self.imageChosen.emit(p))
            self._layout.addWidget(button)
            self.buttons.append(button)
        self._layout.addStretch(1)

    def paths(self) -> list[str]:
        return [button.property("path") for button in self.buttons]
