"""What happens when something is dropped on the window (or pasted into it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QImage

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CHECKPOINT_SUFFIXES = {".safetensors", ".attnscope", ".pt", ".pth"}
SESSION_SUFFIX = ".attnscope-session"
# a training run's folder (engine/training/trainer.py): these first, in this order
PREFERRED_IN_FOLDER = ("best.safetensors", "last.safetensors")
FOLDER_SCAN_LIMIT = 10_000  # entries looked at in a dropped folder (a huge one is not walked)
# what marks a Hugging Face save_pretrained folder (engine/hf/folder.py checks the rest)
HF_CONFIG = "config.json"
# Encoded pictures other applications offer; the worker decodes them safely.
ENCODED_IMAGE_FORMATS = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/bmp",
    "image/gif",
    "image/tiff",
)


def encoded_image(mime: QMimeData) -> bytes | None:
    """The first encoded picture (PNG, JPEG…) in ``mime`` as file bytes, or None."""
    for fmt in ENCODED_IMAGE_FORMATS:
        if mime.hasFormat(fmt):
            data = bytes(mime.data(fmt))
            if data:
                return data
    return None


def accepts(mime: QMimeData) -> bool:
    """Whether a drag carries something the window takes (checked without reading it)."""
    return (
        mime.hasUrls()
        or mime.hasImage()
        or any(mime.hasFormat(fmt) for fmt in ENCODED_IMAGE_FORMATS)
    )


def is_file_drop(mime: QMimeData) -> bool:
    """Whether a drag carries a file or picture to open rather than text to insert: a local
    file (checkpoint, picture, model folder, session), or picture data. A text box takes
    only the rest, so a dropped checkpoint opens instead of pasting its path."""
    if any(url.isLocalFile() for url in mime.urls()):
        return True
    return mime.hasImage() or any(mime.hasFormat(fmt) for fmt in ENCODED_IMAGE_FORMATS)


def is_hf_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like a Hugging Face model folder: it has a config.json.
    The loader (engine/hf/folder.py) says what else is missing or wrong."""
    return (folder / HF_CONFIG).is_file()


def has_pictures(folder: Path) -> bool:
    """Whether ``folder`` holds a picture file (looked for among its first entries)."""
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= FOLDER_SCAN_LIMIT:
                    break
                if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
                    return True
    except OSError:
        return False
    return False


def no_model_message(folder: Path) -> str:
    """What a dropped folder that is no model folder gets told."""
    if has_pictures(folder):
        return (
            f"{folder.name} holds pictures but no checkpoint or model: drop a picture itself "
            "to caption it, or a model folder (config.json, model.safetensors)."
        )
    suffixes = ", ".join(sorted(CHECKPOINT_SUFFIXES))
    return (
        f"{folder.name} holds no checkpoint ({suffixes}) and no Hugging Face model "
        f"({HF_CONFIG}) to open."
    )


def checkpoint_in_folder(folder: Path) -> Path | None:
    """The checkpoint a dropped model folder stands for: ``best.safetensors``, else
    ``last.safetensors``, else its newest checkpoint file (not searched below it)."""
    found: list[tuple[float, str, Path]] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= FOLDER_SCAN_LIMIT:
                    break
                suffix = Path(entry.name).suffix.lower()
                if suffix in CHECKPOINT_SUFFIXES and entry.is_file():
                    found.append((entry.stat().st_mtime, entry.name, Path(entry.path)))
    except OSError:
        return None
    names = {name: path for _, name, path in found}
    for name in PREFERRED_IN_FOLDER:
        if name in names:
            return names[name]
    return max(found)[2] if found else None


class PictureInput(Protocol):
    """Where dropped pictures go (CaptioningController)."""

    def is_active(self) -> bool: ...
    def open_path(self, path: str) -> None: ...
    def open_bytes(self, data: bytes) -> None: ...
    def open_qimage(self, image: QImage) -> None: ...


def handle_drop(
    mime: QMimeData,
    *,
    pictures: PictureInput,
    load_checkpoint: Callable[[str], None],
    show_message: Callable[[str, str], None],
    open_session: Callable[[str], None] | None = None,
) -> None:
    """A checkpoint file loads; a Hugging Face model folder (config.json) loads as a folder,
    and a training run's folder its checkpoint (``checkpoint_in_folder``); a session file
    (.attnscope-session) opens; a picture (file or data) goes to captioning; else a message.

    A file with neither suffix is tried as a picture while a captioner is loaded
    (the worker says clearly if it is not one) and as a checkpoint otherwise.
    """
    paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    if not paths:
        data = encoded_image(mime)
        if data is not None:
            pictures.open_bytes(data)
        elif mime.hasImage():
            pictures.open_qimage(mime.imageData())
        else:
            show_message("Only local files or pictures can be dropped here.", "warning")
        return
    path = paths[0]
    if path.is_dir():  # a HF model folder, or a training run's output: its checkpoint
        checkpoint = path if is_hf_folder(path) else checkpoint_in_folder(path)
        if checkpoint is None:
            show_message(no_model_message(path), "warning")
        else:
            load_checkpoint(str(checkpoint))
        return
    suffix = path.suffix.lower()
    if suffix == SESSION_SUFFIX and open_session is not None:
        open_session(str(path))
        return
    if suffix in IMAGE_SUFFIXES or (suffix not in CHECKPOINT_SUFFIXES and pictures.is_active()):
        pictures.open_path(str(path))
    else:
        load_checkpoint(str(path))
