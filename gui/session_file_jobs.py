"""Helpers of gui/session_files.py: a background job, what a save writes, a picture as a file.

``BackgroundJob`` runs a function in a Python thread (reading a session zip,
hashing a checkpoint, writing a session) and reports its progress and outcome
as queued signals in the GUI thread. ``SaveRequest`` is what the GUI thread
gathers of the shown decode (plain data, no torch); ``live_session_writer``
hashes the checkpoint and writes the file from it in that thread.
``picture_bytes`` gives the original bytes of the captioned picture, and
``picture_file`` puts a session's stored picture on disk, since the caption view
and the autosave take picture paths. ``describe_interventions`` is the sentence
that lists what an opened session replayed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SaveRequest:
    """The shown decode as the GUI thread gathers it for Save session (plain data).

    interventions: engine.interventions objects (forced tokens, attention edits, the
    ImageMask of a masked re-caption); breakpoints: the dock's condition dicts;
    picture: (file name, original bytes) for a caption, None for a translation.
    """

    snapshot: Any  # the SessionSnapshot saved
    task: str
    checkpoint: str  # its path; hashed in the background
    settings: Any  # the DecodeConfig the decode used
    text: str | None
    picture: tuple[str, bytes] | None
    interventions: tuple = ()
    breakpoints: tuple[dict, ...] = ()
    reference: str | None = None
    report: Any = None
    languages: tuple[str, str] | None = None  # a multilingual folder's (source, target)

    @classmethod
    def of_shown(
        cls, state: Any, settings: Any, masked: tuple | None, breakpoints: tuple, picture: Callable
    ) -> SaveRequest:
        """The window's shown decode (``state``: its DecodeState), or the masked re-caption
        ``masked`` = (snapshot, ImageMask) when one is shown; ``picture()`` gives a
        caption's (file name, bytes)."""
        from attnscope.engine.hf.multilingual import chosen_pair

        if masked is not None:
            snapshot, interventions = masked[0], (masked[1],)
        else:
            snapshot, interventions = state.snapshot, tuple(state.snapshot.interventions)
        task = state.summary.task
        return cls(
            snapshot=snapshot,
            task=task,
            checkpoint=state.summary.path,
            settings=settings,
            text=snapshot.source_text if task == "translation" else None,
            picture=None if task == "translation" else picture(),
            interventions=interventions,
            breakpoints=breakpoints,
            reference=state.reference,
            report=state.report,
            languages=chosen_pair(state.summary.info),
        )


def live_session_writer(path: Path, request: SaveRequest) -> Callable:
    """The background work that hashes the checkpoint and writes ``request`` to ``path``."""

    def work(progress):
        from attnscope.engine.debugger.breakpoints import condition_from_dict
        from attnscope.engine.session_file import (
            SessionInput,
            session_from_snapshot,
            write_session_file,
        )
        from attnscope.engine.session_replay import checkpoint_ref

        if request.picture is None:
            source = SessionInput(text=request.text)
        else:
            source = SessionInput(image_name=request.picture[0], image_bytes=request.picture[1])
        session = session_from_snapshot(
            request.snapshot,
            task=request.task,
            checkpoint=checkpoint_ref(request.checkpoint, progress),
            settings=request.settings,
            source=source,
            interventions=request.interventions,
            breakpoints=tuple(condition_from_dict(d) for d in request.breakpoints),
            reference=request.reference,
            report=request.report,
            languages=request.languages,
        )
        return write_session_file(path, session)

    return work


def stored_session_writer(path: Path, session) -> Callable:
    """The background work that writes an opened, read-only session again as it is."""

    def work(progress):
        from attnscope.engine.session_file import write_session_file

        return write_session_file(path, session)

    return work


def picture_bytes(shown: str, chosen: object, chosen_name: str) -> tuple[str, bytes]:
    """(file name, original bytes) of the captioned picture: the file the snapshot names
    (``shown``), else the caption view's choice (path, encoded bytes or pasted pixels)."""
    source = shown if os.path.isfile(shown) else chosen
    if isinstance(source, str | os.PathLike):
        return Path(source).name, Path(source).read_bytes()
    if isinstance(source, bytes | bytearray):
        return chosen_name or "picture", bytes(source)
    if source is None:
        raise ValueError("the picture of this caption is no longer available")
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(source).save(buffer, format="PNG")  # a pasted picture
    return "pasted-picture.png", buffer.getvalue()


def describe_interventions(items: Sequence, pieces: Sequence[str] = ()) -> str:
    """What an opened session replayed, for its message ("" when nothing), with steps
    and positions counted from 1 as everywhere in the app and a forced token named by
    its piece in the replayed decode (``pieces``, one per step) when it has one:
    " Replayed: step 2: 'house' forced; step 4: attention edited (1 × 9, most on
    position 3)."."""
    if not items:
        return ""
    return " Replayed: " + "; ".join(_described(item, pieces) for item in items) + "."


def _described(item, pieces: Sequence[str]) -> str:
    from attnscope.engine.interventions import AttentionEdit, ForceToken

    if isinstance(item, ForceToken):
        if item.step < len(pieces) and pieces[item.step].strip("▁"):
            return f"step {item.step + 1}: '{pieces[item.step].strip('▁')}' forced"
        return f"step {item.step + 1}: token {item.token_id} forced"
    if isinstance(item, AttentionEdit):
        heads, length = item.weights.shape
        peak = int(item.weights.sum(axis=0).argmax())
        return f"step {item.step + 1}: attention edited ({heads} × {length}, most on position {peak + 1})"
    return item.describe()
