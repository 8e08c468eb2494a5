"""A picture the user chose for captioning, before the worker reads it.

``ImageInput`` is the choice as the caption workspace remembers it (a path,
encoded file bytes, or pixels Qt already decoded, and a name); the worker thread
decodes it when the session opens. ``qimage_to_rgb`` turns pixels Qt decoded (a
paste, a dropped image) into the (H, W, 3) uint8 array the engine takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter

from attnscope.engine.errors import ImageInputError
from attnscope.engine.images import MAX_IMAGE_PIXELS


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Pixels Qt already decoded -> (H, W, 3) uint8; transparency goes on white.

    Raises ImageInputError for an empty image or one over the pixel limit.
    """
    if image.isNull() or image.width() < 1 or image.height() < 1:
        raise ImageInputError("the dropped or pasted image data is empty or unreadable")
    width, height = image.width(), image.height()
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageInputError(
            f"the image data is {width}x{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
        )
    canvas = QImage(width, height, QImage.Format.Format_RGB888)
    canvas.fill(Qt.white)
    painter = QPainter(canvas)
    painter.drawImage(0, 0, image)
    painter.end()
    rows = np.frombuffer(canvas.constBits(), np.uint8, count=canvas.sizeInBytes())
    rows = rows.reshape(height, canvas.bytesPerLine())  # lines are padded to 4 bytes
    return rows[:, : width * 3].reshape(height, width, 3).copy()


@dataclass(frozen=True, eq=False)
class ImageInput:
    """One picture the user chose; ``serial`` is new for every choice."""

    source: str | bytes | np.ndarray  # path, encoded file bytes, or RGB (H, W, 3) uint8
    name: str
    serial: int
