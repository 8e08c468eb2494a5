"""What happens when something is dropped on the window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def handle_drop(window, mime: QMimeData) -> None:
    """A checkpoint file loads; an image goes to the captioning workspace; else a message."""
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    if not paths:
        if mime.hasImage() and hasattr(window, "open_image_data"):
            window.open_image_data(mime.imageData())
        else:
            window.show_message("Only local files can be dropped here.", "warning")
        return
    path = paths[0]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        if hasattr(window, "open_image_path"):
            window.open_image_path(str(path))
        else:
            window.show_message(
                f"{path.name} is an image; load a captioning model first.", "warning"
            )
        return
    window.load_checkpoint(str(path))
