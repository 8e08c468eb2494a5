"""Helpers of gui/session_files.py: a background job with progress, and a picture as a file.

``BackgroundJob`` runs a function in a Python thread (reading a session zip,
hashing a checkpoint, writing a session) and reports its progress and outcome
as queued signals in the GUI thread. ``picture_file`` puts a session's stored
picture on disk, since the caption view and the autosave take picture paths.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

PICTURES_FOLDER = "attnscope-session-pictures"  # under the temp folder: opened pictures


class BackgroundJob(QObject):
    """Runs one function at a time in a Python thread; its progress and outcome arrive as
    queued signals in the GUI thread. ``finished(job, result, error)``."""

    progress = Signal(int, int)
    finished = Signal(int, object, object)

    def start(self, job: int, work: Callable[[Callable[[int, int], None]], Any]) -> None:
        def run() -> None:
            try:
                result, error = work(self.progress.emit), None
            except Exception as exc:  # reported to the GUI as a message
                result, error = None, exc
            self.finished.emit(job, result, error)

        threading.Thread(target=run, name="attnscope-session-file", daemon=True).start()


def picture_file(name: str, data: bytes) -> Path:
    """The session's picture as a file (the caption view and the autosave take paths):
    a folder per picture content under the temp folder, the original file name inside."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / PICTURES_FOLDER / digest
    path = folder / (Path(name).name or "picture")
    if not path.is_file() or path.read_bytes() != data:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    return path
