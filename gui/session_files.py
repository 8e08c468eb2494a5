"""File > Save session… / Open session…: ``.attnscope-session`` files in the window.

Saving writes the shown decode (engine/session_file.py): the decode record, the
input (text, or the picture's original bytes), the settings the decode used,
its interventions, the Breakpoints dock's conditions (the ``breakpoints``
callable) and the checkpoint's path, size and sha256. The forced tokens and
attention edits are the worker session's own (``SessionSnapshot.interventions``).
When the caption view shows a masked re-caption (the ``masked_decode`` callable
gives it), that decode is saved with its ``ImageMask`` and the original picture:
opening masks the picture again before encoding and replays the masked caption,
so the replay check compares like with like. With the original shown, the
original is saved and the mask, not part of that decode, is not.

Opening reads and validates the file, finds its checkpoint (the stored path;
when it has moved the user is asked to locate it), checks its size and sha256,
loads it unless it is the loaded one, shows the input and settings, and has the
worker replay the interventions through the one step loop; the replayed tokens
are then compared with the stored ones and the message says whether they
match (or from which step they differ). When the checkpoint is missing, refused
or fails to load, the stored decode is shown read-only with a message saying
why it is not live.

Reading the zip and hashing the checkpoint run in a background thread (a
20 MB checkpoint takes a noticeable moment), with progress in the status bar;
nothing here imports torch on the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QStackedWidget

from attnscope.engine.hf.multilingual import chosen_pair
from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.drops import CHECKPOINT_SUFFIXES
from attnscope.gui.session_file_jobs import (
    BackgroundJob,
    SaveRequest,
    describe_interventions,
    live_session_writer,
    picture_bytes,
    picture_file,
    stored_session_writer,
)
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient

log = logging.getLogger(__name__)

SESSION_SUFFIX = ".attnscope-session"
SESSION_FILTER = f"AttnScope sessions (*{SESSION_SUFFIX});;All files (*)"
CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.attnscope *.pt *.pth);;All files (*)"
SAVE_KEY, OPEN_KEY = "Ctrl+Shift+S", "Ctrl+Shift+L"


class SessionFiles(QObject):
    """Save and open session files for one window's DecodeState.

    ``breakpoints``: a callable giving the conditions (dicts) to save; ``masked_decode``:
    one giving (snapshot, ImageMask) while a masked re-caption is shown, else None.
    What an opened file restores is announced by ``interventionsRestored`` (engine
    interventions) and ``breakpointsRestored`` (engine conditions).
    """

    saved = Signal(str)  # the file written
    opened = Signal(object)  # the SessionFile, once replayed (or shown stored)
    replayChecked = Signal(object)  # the ReplayCheck of an opened session
    interventionsRestored = Signal(tuple)
    breakpointsRestored = Signal(tuple)

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        requests: DecodeRequests,
        *,
        views: tuple[TranslateWorkspace, CaptionWorkspace, QStackedWidget],
        load_checkpoint: Callable[[str], None],
        show_message: Callable[..., None],
        parent: QMainWindow,
    ) -> None:
        """``views``: the translation and caption workspaces and the stack showing one."""
        super().__init__(parent)
        self.state, self.client, self.requests = state, client, requests
        self.translate_view, self.caption_view, self._workspaces = views
        self._load_checkpoint, self._show_message = load_checkpoint, show_message
        self.status_bar, self._dialog_parent = parent.statusBar(), parent
        self.breakpoints: Callable[[], Sequence[dict]] = tuple
        self.masked_decode: Callable[[], tuple | None] = lambda: None
        self._job = 0  # a newer save or open makes older background results stale
        self._opening = None  # the SessionFile being opened
        self._checkpoint_path: str | None = None  # where its verified checkpoint is
        self._plan = None  # the ReplayPlan sent to the worker
        self._pair_asked = False  # the session's language pair was asked of the worker
        self._stored = None  # (SessionFile, snapshot) shown read-only, else None
        self._background = BackgroundJob(self)
        self._background.progress.connect(self._on_progress)
        self._background.finished.connect(self._on_finished)
        self._handlers: dict[int, tuple[Callable, Callable]] = {}
        self._progress_text = ""
        worker = client.worker
        worker.replayed.connect(self._on_replayed)
        worker.loaded.connect(self._on_model_loaded)
        worker.loadFailed.connect(self._on_load_failed)
        worker.failed.connect(self._on_worker_failed)
        self.save_action = self._action(
            "&Save session…",
            SAVE_KEY,
            self.save_dialog,
            "Save the shown decode, its input, settings and interventions to a session file",
        )
        self.open_action = self._action(
            "Open &session…",
            OPEN_KEY,
            self.open_dialog,
            "Open a session file: replay it on its checkpoint, or show it stored",
        )

    @property
    def opening(self):
        """The SessionFile being opened (read, its model loading, its decode replaying),
        None otherwise: the window makes no decode of its own on load meanwhile."""
        return self._opening

    def _action(self, text: str, key: str, slot: Callable, tip: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        tip = f"{tip} ({key})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _show_workspace(self, task: str) -> None:
        captioning = task == "captioning"
        self._workspaces.setCurrentWidget(self.caption_view if captioning else self.translate_view)

    def add_to_menu(self, menu: QMenu, before: QAction | None = None) -> None:
        """Put Open session… and Save session… into ``menu`` (before ``before``)."""
        menu.insertActions(before, [self.open_action, self.save_action])
        menu.insertSeparator(before)

    # -- background jobs ---------------------------------------------------------------
    def _run(self, work: Callable, done: Callable, failed: Callable, text: str) -> None:
        self._job += 1
        self._handlers = {self._job: (done, failed)}
        self._progress_text = text
        self.status_bar.showMessage(f"{text}…")
        self._background.start(self._job, work)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.status_bar.showMessage(f"{self._progress_text}: {100 * done // total} %")

    def _on_finished(self, job: int, result: object, error: object) -> None:
        handlers = self._handlers.pop(job, None)
        if handlers is None:
            return  # a newer request replaced this one
        self.status_bar.clearMessage()
        done, failed = handlers
        if error is None:
            done(result)
        else:
            log.info("session file job failed: %s", error)
            failed(error)

    # -- saving ------------------------------------------------------------------------
    def save_dialog(self) -> None:
        if self._nothing_to_save():
            return
        path, _ = QFileDialog.getSaveFileName(
            self._dialog_parent, "Save session", self._default_name(), SESSION_FILTER
        )
        if path:
            self.save_to(path if path.endswith(SESSION_SUFFIX) else path + SESSION_SUFFIX)

    def _nothing_to_save(self) -> bool:
        snapshot = self.state.snapshot
        if snapshot is None or (self._stored is None and self.state.summary is None):
            self._show_message("Nothing to save yet: decode something first.", "warning")
            return True
        return False

    def _default_name(self) -> str:
        snapshot = self.state.snapshot
        words = "".join(c if c.isalnum() else "-" for c in snapshot.source_text[:40]).strip("-")
        return (Path(words).name or "decode") + SESSION_SUFFIX

    def save_to(self, path: str | os.PathLike) -> None:
        """Write the shown decode to ``path`` (in the background; ``saved`` when done)."""
        if self._nothing_to_save():
            return
        path = Path(path)
        if self._stored is not None and self.state.snapshot is self._stored[1]:
            work = self._stored_writer(path)
        else:
            try:
                work = self._live_writer(path)
            except (OSError, ValueError) as exc:
                self._show_message(f"Could not save the session: {exc}", "error")
                return
        self._run(work, self._on_saved, self._on_save_failed, f"Saving {path.name}")

    def _stored_writer(self, path: Path) -> Callable:
        return stored_session_writer(path, self._stored[0])

    def _live_writer(self, path: Path) -> Callable:
        """Gather the shown decode on the GUI thread; hash and write in the background."""
        settings = self.state.decode_config or self.requests.config
        if settings is None:
            raise ValueError("the decode's settings are not known yet; step it once")
        request = SaveRequest.of_shown(
            self.state, settings, self.masked_decode(), tuple(self.breakpoints()), self._picture
        )
        return live_session_writer(path, request)

    def _picture(self) -> tuple[str, bytes]:
        """(file name, original bytes) of the picture the shown caption was made from."""
        view = self.caption_view
        return picture_bytes(
            self.state.snapshot.source_text, view.image_source(), view.image_name()
        )

    def _on_saved(self, path: object) -> None:
        self._show_message(f"Saved the session to {Path(path).name}.", "info")
        self.saved.emit(str(path))

    def _on_save_failed(self, error: Exception) -> None:
        self._show_message(f"Could not save the session: {error}", "error")

    # -- opening -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._dialog_parent, "Open session", "", SESSION_FILTER
        )
        if path:
            self.open_path(path)

    def open_path(self, path: str | os.PathLike) -> None:
        """Read ``path`` (in the background), then check, load and replay it."""
        path = Path(path)
        self._opening = self._plan = None

        def work(progress):
            from attnscope.engine.session_file import read_session_file

            return read_session_file(path)

        self._run(work, self._on_read, self._refused(path.name), f"Reading {path.name}")

    def _refused(self, name: str) -> Callable[[Exception], None]:
        return lambda error: self._show_message(f"Could not open {name}: {error}", "error")

    def _on_read(self, session) -> None:
        self._opening, self._pair_asked = session, False
        path = session.checkpoint.path
        if not (Path(path).is_file() or Path(path).is_dir()):  # a checkpoint or model folder
            path = self.locate_checkpoint(session.checkpoint.path)
            if not path:
                self.show_stored(session, f"its model {session.checkpoint.path} was not found")
                return
        ref = session.checkpoint

        def work(progress):
            from attnscope.engine.session_replay import verify_checkpoint

            verify_checkpoint(ref, path, progress)
            return path

        self._run(
            work, self._on_verified, lambda e: self._not_live(str(e)), f"Checking {Path(path).name}"
        )

    def locate_checkpoint(self, stored_path: str) -> str | None:
        """Ask the user where the session's checkpoint (or model folder: a name without a
        checkpoint's suffix) is now; None when they cancel."""
        name = Path(stored_path).name
        self._show_message(
            f"The session's model {name} is not at {stored_path}: locate it.", "warning"
        )
        if Path(stored_path).suffix.lower() not in CHECKPOINT_SUFFIXES:  # a Hugging Face folder
            return QFileDialog.getExistingDirectory(self._dialog_parent, f"Locate {name}") or None
        path, _ = QFileDialog.getOpenFileName(
            self._dialog_parent, f"Locate {name}", "", CHECKPOINT_FILTER
        )
        return path or None

    def _on_verified(self, path: str) -> None:
        summary = self.state.summary
        self._checkpoint_path = path
        if summary is not None and os.path.realpath(summary.path) == os.path.realpath(path):
            self._replay()
        else:
            self._load_checkpoint(path)  # _on_model_loaded continues

    def _on_model_loaded(self, summary) -> None:
        path = self._checkpoint_path
        if self._opening is None or self._plan is not None or path is None:
            return
        if os.path.realpath(summary.path) == os.path.realpath(path):
            self._replay()

    def _on_load_failed(self, path: str, message: str) -> None:
        if self._opening is not None and self._plan is None and path == self._checkpoint_path:
            self._not_live(f"its model could not be loaded: {message}")

    def _replay(self) -> None:
        from attnscope.engine.session_replay import ReplayPlan

        session = self._opening
        current = chosen_pair(self.state.summary.info)
        if session.languages and current not in (None, session.languages) and not self._pair_asked:
            self._pair_asked = True  # the model is announced again: _on_model_loaded replays
            self.client.set_languages(*session.languages)
            return
        source = session.source.text
        if source is None:
            source = str(picture_file(session.source.image_name, session.source.image_bytes))
        self._plan = ReplayPlan(
            steps=session.decode.steps_taken,
            interventions=session.interventions,
            languages=session.languages,  # checked again by the worker: one message if refused
        )
        self._stored = None
        self._show_workspace(session.task)
        self.requests.restore(
            source, dataclasses.asdict(session.settings), self._plan, config=session.settings
        )

    def _on_replayed(self, plan, snapshot) -> None:
        if plan is not self._plan or self._opening is None:
            return
        from attnscope.engine.session_replay import check_replay

        session, self._opening, self._plan = self._opening, None, None
        check = check_replay(session.decode, snapshot)
        level = "info" if check.matches else "warning"
        listed = describe_interventions(
            session.interventions, tuple(step.piece for step in snapshot.steps)
        )
        self._show_message(f"Opened the session. {check.message}{listed}", level)
        self._restored(session)
        self.replayChecked.emit(check)

    def _on_worker_failed(self, text: str) -> None:
        if self._opening is not None and (self._plan is not None or self._pair_asked):
            self._plan = None
            self._not_live(f"its replay failed: {text}")

    def _not_live(self, reason: str) -> None:
        session, self._opening = self._opening, None
        if session is not None:
            self.show_stored(session, reason)

    # -- the stored decode, read-only ---------------------------------------------------------
    def show_stored(self, session, reason: str) -> None:
        """Show the file's stored decode (tokens, attention, candidates) without a model."""
        from attnscope.engine.session_replay import stored_snapshot

        self._opening = None
        snapshot = stored_snapshot(session)
        self._stored = (session, snapshot)
        self._show_workspace(session.task)
        self.state.set_session_key(None)  # a Step starts a live decode afresh
        loaded = self.state.task
        if loaded == session.task or (loaded is None and session.task == "translation"):
            if session.task == "translation":
                self.translate_view.set_source(session.source.text)
            self.state.set_snapshot(snapshot)
        elif session.task == "captioning":
            self.caption_view.show_snapshot(snapshot, None)
        else:
            self.translate_view.set_source(session.source.text)
            self.translate_view.show_attention(snapshot, None)
            self.translate_view.show_tokens(snapshot, None)
        self._show_message(
            f"Showing the stored decode read-only (not live): {reason}.", "warning", keep=True
        )
        self._restored(session)

    def _restored(self, session) -> None:
        self.interventionsRestored.emit(tuple(session.interventions))
        self.breakpointsRestored.emit(tuple(session.breakpoints))
        self.opened.emit(session)
