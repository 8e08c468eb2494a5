"""Nothing lost: the source, the last decode and its settings survive a restart or a crash.

``SessionAutosave`` watches the shown decode (source edits, decode settings,
shown snapshots, loaded checkpoints) and, a moment after a change, writes one small
JSON file, ``last-session.json``, atomically (temporary file, then rename):
the checkpoint, the source text (or the picture's file), the decode settings,
a multilingual folder's language pair (chosen again before the replay), and the
shown decode as a replay plan — one entry per step, None where the
model chose the token, the token id where the user forced it. Nothing else
is stored: on the next start, once the same checkpoint is loaded, the worker
takes those steps again (``WorkerClient.replay``), so the tokens, attention
and candidates come back exactly. QSettings keeps the rest (window layout,
recent files, decode settings).

The file sits beside the settings file when the window was given an INI
QSettings (tests, portable set-ups), else in the platform's application data
folder (``QStandardPaths.AppDataLocation``). A missing, unreadable or
malformed file is ignored with a log line, never an error.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal

from attnscope.engine.hf.multilingual import LANGUAGE_CODE, chosen_pair
from attnscope.gui.decode_controls import DecodeSettingsPanel
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.translate_view import TranslateWorkspace

log = logging.getLogger(__name__)

AUTOSAVE_FILE = "last-session.json"
AUTOSAVE_VERSION = 1
SAVE_DELAY_MS = 500  # a burst of edits or steps is written once


@dataclass(frozen=True)
class SavedSession:
    """What ``last-session.json`` holds (see the module docstring)."""

    checkpoint: str
    task: str
    source: str  # the text, or the picture's path ("" when it was not a file)
    settings: dict[str, Any] = field(default_factory=dict)  # DecodeSettingsPanel.values()
    plan: tuple[int | None, ...] = ()  # per step: None = stepped, id = forced
    tokens: tuple[int, ...] = ()  # the shown tokens, to tell whether the replay matched
    languages: tuple[str, str] | None = None  # a multilingual folder's (source, target)

    def to_json(self) -> str:
        return json.dumps({"version": AUTOSAVE_VERSION, **asdict(self)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SavedSession:
        """Parse and type-check; anything unexpected raises ValueError."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != AUTOSAVE_VERSION:
            raise ValueError("not an AttnScope session file of a known version")
        values = {key: data.get(key) for key in ("checkpoint", "task", "source")}
        if not all(isinstance(v, str) for v in values.values()):
            raise ValueError("checkpoint, task and source must be strings")
        settings, plan, tokens = data.get("settings"), data.get("plan"), data.get("tokens")
        if not isinstance(settings, dict) or not isinstance(plan, list):
            raise ValueError("settings must be an object and plan a list")
        if not all(p is None or _is_id(p) for p in plan) or not all(map(_is_id, tokens or [])):
            raise ValueError("plan and tokens hold token ids")
        languages = data.get("languages")
        if languages is not None and not _is_pair(languages):
            raise ValueError("languages must be a source and a target language code")
        return cls(
            **values,
            settings=settings,
            plan=tuple(plan),
            tokens=tuple(tokens or ()),
            languages=None if languages is None else tuple(languages),
        )


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_pair(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, str) and LANGUAGE_CODE.fullmatch(v) for v in value)
    )


def autosave_folder(settings: QSettings) -> Path:
    """Beside an INI settings file, else the application data folder."""
    if settings.format() == QSettings.IniFormat and settings.fileName():
        return Path(settings.fileName()).parent
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))


def read_saved_session(folder: Path) -> SavedSession | None:
    """The session saved in ``folder``, or None (absent or unreadable: logged, not raised)."""
    path = folder / AUTOSAVE_FILE
    try:
        return SavedSession.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring the saved session %s: %s", path, exc)
        return None


def last_checkpoint(settings: QSettings) -> str | None:
    """The checkpoint (or Hugging Face model folder) of the saved session when it still
    exists (to reopen it)."""
    saved = read_saved_session(autosave_folder(settings))
    if saved is None:
        return None
    path = Path(saved.checkpoint)
    return saved.checkpoint if path.is_file() or path.is_dir() else None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def replay_plan(snapshot) -> tuple[tuple[int | None, ...], tuple[int, ...]]:
    """(plan, shown tokens) of a SessionSnapshot; beam search may have taken extra steps."""
    plan = [step.token_id if step.forced else None for step in snapshot.steps]
    tree = snapshot.tree
    if tree is not None and len(tree) > 1:
        taken = int(tree.steps.max()) + 1  # steps count from 0; the root is -1
        plan += [None] * max(0, taken - len(plan))
    return tuple(plan), tuple(step.token_id for step in snapshot.steps)


class SessionAutosave(QObject):
    """Saves the shown session shortly after each change; restores it once per start.

    state: the decode shown (model, view record); settings: where QSettings lives (the
    file goes beside it, or in ``folder``); translate_view and decode_settings: the
    source text and the Decoding panel, watched for edits; current_source: the source
    to decode (a caption's picture); restore_decode(source, values, plan): retakes a
    saved decode; set_languages(source, target): chooses a multilingual folder's saved
    pair first (the model is announced again, then replayed); show_message: tells the
    user when it came back only in part.
    The owner calls ``model_loaded`` and ``snapshot_shown``.
    """

    saved = Signal(str)  # the file written
    restored = Signal(object)  # the SavedSession replayed

    def __init__(
        self,
        state: DecodeState,
        *,
        settings: QSettings,
        translate_view: TranslateWorkspace,
        decode_settings: DecodeSettingsPanel,
        current_source: Callable[[], Any],
        restore_decode: Callable[[str, dict, tuple], None],
        show_message: Callable[[str, str], None],
        set_languages: Callable[[str, str], None] | None = None,
        folder: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.settings = settings
        self.translate_view = translate_view
        self.decode_settings = decode_settings
        self._current_source = current_source
        self._restore_decode = restore_decode
        self._show_message = show_message
        self._set_languages = set_languages
        self._pair_asked = False  # the saved pair was asked for once (a refusal replays anyway)
        # True from asking the worker for the saved pair to the model's next announcement:
        # the window then makes no decode of its own (the replay follows)
        self.asking_for_pair = False
        self.path = (folder or autosave_folder(settings)) / AUTOSAVE_FILE
        self.pending = read_saved_session(self.path.parent)  # restored when its model loads
        self._expected: tuple[int, ...] | None = None  # tokens the replay should show
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.save_now)
        translate_view.source_edit.textChanged.connect(self._on_changed)
        decode_settings.changed.connect(self._on_changed)
        if self.pending is not None and self.pending.task == "translation":
            translate_view.set_source(self.pending.source)

    def current(self) -> SavedSession | None:
        """The session shown right now, or None before any checkpoint is loaded."""
        summary = self.state.summary
        if summary is None:
            return None
        captioning = summary.task == "captioning"
        source = self._current_source() if captioning else self.translate_view.source()
        if not isinstance(source, str):  # pictures dropped as data or pasted: not kept
            source = ""
        plan, tokens = (), ()
        snapshot = self.state.snapshot
        if snapshot is not None and source and snapshot.source_text == source:
            plan, tokens = replay_plan(snapshot)
        return SavedSession(
            checkpoint=summary.path,
            task=summary.task,
            source=source,
            settings=self.decode_settings.values(),
            plan=plan,
            tokens=tokens,
            languages=chosen_pair(summary.info),
        )

    def save_now(self) -> None:
        """Write the session now (also called when the window closes)."""
        self._timer.stop()
        session = self.current()
        if session is None:
            return
        try:
            write_atomically(self.path, session.to_json())
        except OSError as exc:
            log.warning("could not save the session to %s: %s", self.path, exc)
            return
        self.settings.sync()
        self.saved.emit(str(self.path))

    def snapshot_shown(self, snapshot) -> None:
        """The views drew ``snapshot``: the first after a restore is checked against it."""
        expected, self._expected = self._expected, None
        if expected is not None and tuple(s.token_id for s in snapshot.steps) != expected:
            self._show_message(
                "The last session's decode came back only in part: the model or the "
                "decoding settings differ from when it was saved.",
                "warning",
            )
        self._on_changed()

    def _on_changed(self, *_args) -> None:
        if self.state.summary is not None:
            self._timer.start()

    def model_loaded(self, summary) -> None:
        """A model is loaded: replay the saved session when it was made with this one."""
        saved, self.pending = self.pending, None
        self.asking_for_pair = False
        if saved is None or saved.checkpoint != summary.path or saved.task != summary.task:
            self._timer.start()
            return
        if self._ask_for_pair(saved, summary):  # replayed when the model is announced again
            self.pending, self.asking_for_pair = saved, True
            return
        if saved.source and (saved.task == "translation" or Path(saved.source).is_file()):
            self._expected = saved.tokens
            self._restore_decode(saved.source, saved.settings, saved.plan)
            self.restored.emit(saved)

    def _ask_for_pair(self, saved: SavedSession, summary) -> bool:
        """Ask once for the saved language pair when the folder is on another; True if asked."""
        current = chosen_pair(summary.info)
        if not saved.languages or current in (None, saved.languages) or self._pair_asked:
            return False
        if self._set_languages is None:
            return False
        self._pair_asked = True
        self._set_languages(*saved.languages)
        return True
