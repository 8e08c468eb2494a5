"""Soak the real window: a long seeded run of random user actions, offscreen.

    nice -n 10 python benchmarks/soak.py [--actions 1000] [--seed 0] [--warmup 100] [--json OUT]

Actions (weighted, drawn from a seeded RNG): load a translator or a
captioner, drop a broken file, type a sentence (awkward ones too) or choose a
picture, Step, Back, Reset, force a candidate, Run, cancel a Run, switch the
strategy and its knobs, select a step, export (PNG, SVG, CSV, NPY, JSON),
translate a small file. Exports go through File > Export as a user's do
(the save dialog answered by the script). After every action the worker must answer a ping
(``WorkerClient.ping``: queued behind every earlier request) within a few
seconds, and the process's resident memory is sampled (psutil).

Prints JSON: actions done per kind, unanswered pings, Python exceptions
raised in Qt slots, messages shown, RSS at the start, after warm-up and at
the end, the growth after warm-up and its slope per 100 actions. The unit
suite runs ~60 actions (tests/reliability/test_gui_soak.py).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import psutil
from PIL import Image
from PySide6.QtCore import QEventLoop, QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog

log = logging.getLogger("soak")

SENTENCES = [
    "der hund läuft im park .",
    "die katze schläft auf dem sofa .",
    "hallo welt !",
    "ein mann fährt fahrrad und ein hund läuft im park .",
    "Ünïcödé ☃ mit emoji 😀👩‍👩‍👧 und \u202eRTL\u202c text",
    "   ",
    "x" * 3000,
    " ".join(["hund"] * 500),  # too many tokens: a message
]
PING_TIMEOUT_MS = 15_000


@dataclass
class SoakReport:
    """What happened; ``rss_mb[i]`` is the resident memory after action ``i``."""

    done: Counter = field(default_factory=Counter)
    unanswered: list[tuple[int, str]] = field(default_factory=list)
    slot_exceptions: list[str] = field(default_factory=list)
    action_exceptions: list[str] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    messages: Counter = field(default_factory=Counter)  # level -> messages shown
    seconds: float = 0.0

    def figures(self, warmup: int) -> dict:
        rss = self.rss_mb
        after = rss[min(warmup, len(rss) - 1)] if rss else 0.0
        tail = np.asarray(rss[warmup:], dtype=float)
        slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0] * 100) if len(tail) > 2 else 0.0
        return {
            "actions": sum(self.done.values()),
            "by_kind": dict(sorted(self.done.items())),
            "unanswered_pings": len(self.unanswered),
            "slot_exceptions": len(self.slot_exceptions),
            "action_exceptions": len(self.action_exceptions),
            "messages_shown": dict(self.messages),
            "rss_start_mb": round(rss[0], 1) if rss else None,
            "rss_after_warmup_mb": round(after, 1),
            "rss_end_mb": round(rss[-1], 1) if rss else None,
            "rss_max_mb": round(max(rss), 1) if rss else None,
            "rss_growth_after_warmup_mb": round(rss[-1] - after, 1) if rss else None,
            "rss_slope_mb_per_100_actions": round(slope, 2),
            "seconds": round(self.seconds, 1),
            "first_problems": (self.unanswered + self.slot_exceptions + self.action_exceptions)[
                :10
            ],
        }


def write_soak_files(folder: Path) -> dict:
    """Tiny models, broken files, pictures and a text file for the actions to use."""
    from fuzz_inputs import write_tiny_captioner, write_tiny_translator

    folder.mkdir(parents=True, exist_ok=True)
    translator = write_tiny_translator(folder)["translation"]
    blob = translator.read_bytes()
    bad = {
        "random.safetensors": bytes(random.Random(0).randbytes(4096)),
        "huge-header.safetensors": (2**62).to_bytes(8, "little") + b"{}",
        "cut.safetensors": blob[: len(blob) // 2],
        "empty.pt": b"",
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    (folder / "folder.safetensors").mkdir(exist_ok=True)
    pictures = []
    for index, size in enumerate([(40, 30), (1, 1), (64, 9)]):
        rgb = np.random.default_rng(index).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        path = folder / f"picture-{index}.png"
        Image.fromarray(rgb).save(path)
        pictures.append(path)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "lines.txt").write_text("\n".join(SENTENCES[:4] * 5) + "\n", encoding="utf-8")
    return {
        "translator": translator,
        "captioner": write_tiny_captioner(folder),
        "bad": [folder / name for name in [*bad, "folder.safetensors", "broken.jpg"]],
        "pictures": pictures,
        "lines": folder / "lines.txt",
        "out": folder / "exports",
    }


class SoakSession:
    """Drives a real MainWindow through seeded random actions (see the module docstring)."""

    def __init__(self, window, files: dict, *, seed: int = 0) -> None:
        self.window = window
        self.files = files
        self.rng = random.Random(seed)
        self._serial = 0
        files["out"].mkdir(parents=True, exist_ok=True)
        # name -> (weight, action)
        self.actions: dict[str, tuple[int, Callable[[], None]]] = {
            "load_translator": (2, lambda: window.load_checkpoint(str(files["translator"]))),
            "load_captioner": (1, lambda: window.load_checkpoint(str(files["captioner"]))),
            "drop_bad_file": (2, self.drop_bad_file),
            "type": (6, self.type_or_choose),
            "step": (10, window.step),
            "back": (4, window.back),
            "reset": (1, window.reset),
            "force": (3, self.force),
            "run": (4, self.run),
            "cancel": (3, self.cancel),
            "switch_strategy": (3, self.switch_strategy),
            "select_step": (3, self.select_step),
            "export": (2, self.export),
            "batch": (1, self.batch),
        }

    # -- actions -----------------------------------------------------------
    def drop_bad_file(self) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(self.rng.choice(self.files["bad"])))])
        event = QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        self.window.dropEvent(event)

    def type_or_choose(self) -> None:
        window = self.window
        if window.captioning.is_active():
            if self.rng.random() < 0.5:
                window.captioning.open_path(str(self.rng.choice(self.files["pictures"])))
            else:
                buffer = io.BytesIO()
                side = self.rng.randint(1, 50)
                Image.new("RGB", (side, 2 * side), (side, 90, 200)).save(buffer, "PNG")
                window.captioning.open_bytes(buffer.getvalue())
        else:
            window.translate_view.set_source(self.rng.choice(SENTENCES))

    def force(self) -> None:
        snapshot = self.window.state.snapshot
        if snapshot is None or not snapshot.steps:
            return
        step = self.rng.randrange(len(snapshot.steps))
        self.window.select_step(step)
        self.window.force_token(int(self.rng.choice(list(snapshot.steps[step].topk_ids))))

    def run(self) -> None:
        self.window.decode_actions.run.setChecked(True)
        self.window.toggle_run()

    def cancel(self) -> None:
        self.window.decode_actions.run.setChecked(False)
        self.window.toggle_run()

    def switch_strategy(self) -> None:
        self.window.decode_settings.set_values(
            {
                "strategy": self.rng.choice(["greedy", "beam", "sampling"]),
                "beam_size": self.rng.randint(1, 6),
                "max_length": self.rng.randint(5, 60),
                "top_k": self.rng.choice([0, 3, 10]),
                "seed": self.rng.randint(0, 99),
            }
        )

    def select_step(self) -> None:
        snapshot = self.window.state.snapshot
        if snapshot is not None and snapshot.steps:
            self.window.select_step(self.rng.randrange(len(snapshot.steps)))

    def export(self) -> None:
        """File > Export > one of the entries shown for the task, the save dialog answered."""
        menu = self.window.export_menu
        menu.aboutToShow.emit()  # shows the entries of the current task only
        action = self.rng.choice([a for a in menu.actions() if a.isVisible()])
        target = str(self.files["out"] / f"export-{self.rng.randrange(4)}")  # suffix added

        def answer(*_args, **_kwargs):
            return target, ""

        original = QFileDialog.getSaveFileName
        QFileDialog.getSaveFileName = answer
        try:
            action.trigger()
        finally:
            QFileDialog.getSaveFileName = original

    def batch(self) -> None:
        if (
            self.window.state.summary is not None
            and self.window.state.summary.task == "translation"
        ):
            out = self.files["out"] / "batch.txt"
            self.window.translate_file(str(self.files["lines"]), str(out))

    # -- the loop ----------------------------------------------------------
    def answers(self, timeout_ms: int = PING_TIMEOUT_MS) -> bool:
        """Round trip to the worker: True when it answers a ping within ``timeout_ms``."""
        self._serial += 1
        serial, loop, answered = self._serial, QEventLoop(), []

        def on_answer(value: int) -> None:
            if value == serial:
                answered.append(value)
                loop.quit()

        timer = QTimer()
        timer.setSingleShot(True)
        timer.timeout.connect(loop.quit)
        client = self.window.client
        client.answered.connect(on_answer)  # emitted in the GUI thread
        timer.start(timeout_ms)
        client.ping(serial)
        if not answered:
            loop.exec()
        timer.stop()
        client.answered.disconnect(on_answer)
        QApplication.processEvents()  # let the snapshots that came back be drawn
        return bool(answered)

    def start(self) -> bool:
        """Load both models once (not counted): later loads then reuse memory, and the
        actions start with a translator to act on."""
        self.window.load_checkpoint(str(self.files["captioner"]))
        self.window.load_checkpoint(str(self.files["translator"]))
        return self.answers()

    def _count_messages(self, report: SoakReport) -> Callable[[], None]:
        """Count the messages the window shows by level; returns the undo."""
        window, show = self.window, self.window.show_message

        def counting(text: str, level: str = "error") -> None:
            report.messages[level] += 1
            show(text, level)

        window.show_message = counting
        return lambda: delattr(window, "show_message")

    def run_actions(self, count: int, report: SoakReport | None = None) -> SoakReport:
        report = report or SoakReport()
        stop_counting = self._count_messages(report)
        names = list(self.actions)
        weights = [self.actions[n][0] for n in names]
        process = psutil.Process()
        start = time.perf_counter()
        previous_hook = sys.excepthook
        sys.excepthook = lambda kind, exc, tb: report.slot_exceptions.append(
            f"{kind.__name__}: {exc}"
        )
        try:
            for index in range(count):
                name = self.rng.choices(names, weights)[0]
                try:
                    self.actions[name][1]()
                except Exception as exc:  # a GUI-side bug: recorded, the soak goes on
                    report.action_exceptions.append(f"{name}: {type(exc).__name__}: {exc}")
                report.done[name] += 1
                if not self.answers():
                    report.unanswered.append((index, name))
                report.rss_mb.append(process.memory_info().rss / 2**20)
                if (index + 1) % 100 == 0:
                    log.info("%d actions, rss %.0f MB", index + 1, report.rss_mb[-1])
        finally:
            sys.excepthook = previous_hook
            stop_counting()
        report.seconds += time.perf_counter() - start
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=100, help="actions before the RSS baseline")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("attnscope").setLevel(logging.WARNING)
    from attnscope.engine.devices import configure_threads
    from attnscope.gui.app import get_app
    from attnscope.gui.main_window import MainWindow

    configure_threads(reserve_for_gui=1)  # as the app does
    app = get_app()
    with tempfile.TemporaryDirectory(prefix="attnscope-soak-") as scratch:
        folder = Path(scratch)
        files = write_soak_files(folder / "files")
        settings = QSettings(str(folder / "profile" / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, device="cpu")
        window.resize(1200, 800)
        window.show()
        session = SoakSession(window, files, seed=args.seed)
        session.start()
        report = session.run_actions(args.actions)
        start = time.perf_counter()
        window.close()
        figures = report.figures(args.warmup)
        figures["close_s"] = round(time.perf_counter() - start, 3)
        figures["worker_finished"] = window.client.thread.isFinished()
        app.processEvents()
    figures["seed"] = args.seed
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    failed = (
        figures["unanswered_pings"] or figures["slot_exceptions"] or figures["action_exceptions"]
    )
    return 1 if failed or not figures["worker_finished"] else 0


if __name__ == "__main__":
    sys.exit(main())
