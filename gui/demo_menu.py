"""File > Open demo model: the bundled checkpoints, here or side by side in a new window.

Each entry is labelled from the checkpoint's header alone (task, attention,
the score it shipped with), read when the menu opens — no weights are loaded
until one is chosen. "In a new window" starts a second AttnScope process on
that checkpoint, so two models (say, with and without attention) can be
compared side by side without sharing a worker or a session.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QProcess
from PySide6.QtWidgets import QMenu

from attnscope.engine import resources
from attnscope.engine.errors import CheckpointError
from attnscope.engine.languages import language_pair

Launcher = Callable[[str, Sequence[str]], bool]

_SCORE_NAMES = {
    "test_bleu_beam5": "test BLEU",
    "val_bleu_beam5_gnmt1": "val BLEU (beam 5)",
    "val_bleu_greedy": "val BLEU",
    "dev_bleu4_beam3": "dev BLEU-4",
    "pointing_accuracy": "pointing",
}


def demo_label(info: dict) -> str:
    """'deen-bahdanau — German → English, additive attention (val BLEU 27.4)' from a header
    (the task instead of the languages when the checkpoint does not record them)."""
    name = Path(info["path"]).stem
    task = info.get("task", "?")
    attention = info.get("attention", "?")
    heads = info.get("heads") or 1
    if attention == "none":
        what = "no attention"
    elif heads > 1:
        what = f"{attention} attention, {heads} heads"
    else:
        what = f"{attention} attention"
    training = info.get("training_info") or {}
    pair = language_pair(task, training if isinstance(training, dict) else {})
    label = f"{name} — {pair or task}, {what}"
    scores = training.get("scores") or {}
    shown = [
        f"{title} {scores[key]:.3g}"
        for key, title in _SCORE_NAMES.items()
        if isinstance(scores.get(key), int | float)
    ]
    return f"{label} ({', '.join(shown[:2])})" if shown else label


def demo_tooltip(info: dict) -> str:
    """Architecture lines and the shipped note, for the entry's tooltip."""
    architecture = info.get("architecture") or {}
    lines = [f"{part}: {text}" for part, text in architecture.items()]
    lines.append(f"{info.get('num_parameters', 0) / 1e6:.2f} M parameters")
    note = (info.get("training_info") or {}).get("note")
    if note:
        lines.append(str(note))
    lines.append(str(info["path"]))
    return "\n".join(lines)


def launch_new_window(program: str, arguments: Sequence[str]) -> bool:
    """Start a detached AttnScope process; False when the OS refused."""
    started, _pid = QProcess.startDetached(program, list(arguments))
    return bool(started)


class DemoMenus:
    """Fills "Open demo model" and "… in a new window" each time they open."""

    def __init__(
        self,
        file_menu: QMenu,
        *,
        before,
        load_checkpoint: Callable[[str], None],
        show_message: Callable[[str, str], None],
        show_status: Callable[[str, int], None],
        checkpoints: Callable[[], list[Path]] = resources.checkpoints,
        launcher: Launcher = launch_new_window,
    ) -> None:
        """``load_checkpoint`` opens an entry here; ``show_message`` and ``show_status``
        report on a second window; ``checkpoints`` and ``launcher`` are for tests."""
        self._load_checkpoint = load_checkpoint
        self._show_message = show_message
        self._show_status = show_status
        self._checkpoints = checkpoints
        self._launcher = launcher
        self.here = QMenu("Open &demo model", file_menu)
        self.here.setToolTipsVisible(True)
        self.here.setStatusTip("Open one of the models that come with AttnScope")
        self.elsewhere = QMenu("Open demo model in a &new window", file_menu)
        self.elsewhere.setToolTipsVisible(True)
        self.elsewhere.setStatusTip(
            "Open a bundled model in a second window, to compare side by side"
        )
        file_menu.insertMenu(before, self.here)
        file_menu.insertMenu(before, self.elsewhere)
        self.here.aboutToShow.connect(lambda: self._fill(self.here, self._load_checkpoint))
        self.elsewhere.aboutToShow.connect(lambda: self._fill(self.elsewhere, self.open_new_window))

    def entries(self) -> list[tuple[Path, str, str, bool]]:
        """(path, label, tooltip, readable) of every bundled checkpoint."""
        from attnscope.engine.checkpoint import read_checkpoint_info  # torch: not at start-up

        found = []
        for path in self._checkpoints():
            try:
                info = read_checkpoint_info(path)
            except CheckpointError as error:
                found.append((path, f"{path.stem} — unreadable", str(error), False))
                continue
            found.append((path, demo_label(info), demo_tooltip(info), True))
        return found

    def _fill(self, menu: QMenu, open_path: Callable[[str], None]) -> None:
        menu.clear()
        entries = self.entries()
        for path, label, tip, readable in entries:
            action = menu.addAction(label)
            action.setToolTip(tip)
            action.setEnabled(readable)
            action.triggered.connect(lambda _=False, p=str(path): open_path(p))
        if not entries:
            menu.addAction("(no bundled models found)").setEnabled(False)

    def open_new_window(self, path: str) -> bool:
        """A second AttnScope process on ``path``; a message if it could not start."""
        started = self._launcher(sys.executable, ["-m", "attnscope", "gui", path])
        if started:
            self._show_status(f"Opening {Path(path).name} in a new window…", 5000)
        else:
            self._show_message(
                f"Could not start a new AttnScope window for {Path(path).name}.", "error"
            )
        return started
