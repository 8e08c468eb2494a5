"""How long closing the window takes while the worker is busy, offscreen.

    nice -n 10 python benchmarks/shutdown.py [--repeats 5] [--json OUT]

Scenarios (each on a fresh window with a tiny translator):

- ``run``: Run with beam 8 and eos banned for 300 steps, closed after the first snapshot;
- ``load``: a checkpoint load that lasts until the window asks to stop (the load then
  finishes, as a real one would), closed mid-load;
- ``batch``: File > Translate a file (1,200 lines), closed after the first progress;
  the output must be either complete or ``.partial`` with whole lines.

Prints per scenario the close times (window.close() returning, the worker
thread finished by then), and any Qt warning about threads or timers.
Nothing passes or fails on time here; the suite asserts < 2 s
(tests/reliability/test_shutdown.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fuzz_inputs import write_tiny_translator
from PySide6.QtCore import QCoreApplication, QSettings, qInstallMessageHandler

from attnscope.engine import inference

SOURCE = "der hund läuft im park ."
warnings: list[str] = []


def _record(_mode, _context, message: str) -> None:
    if any(word in message for word in ("QThread", "thread", "Timer")):
        warnings.append(message)


def _wait(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window never reached the state to close in")
        QCoreApplication.processEvents()
        threading.Event().wait(0.005)  # a script, not a test: poll gently


def _window(folder: Path, index: int):
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(folder / f"profile-{index}" / "s.ini"), QSettings.IniFormat)
    return MainWindow(settings=settings, device="cpu")


def _loaded(folder, index, model):
    window = _window(folder, index)
    window.load_checkpoint(str(model))
    _wait(lambda: window.state.summary is not None)
    return window


def scenario_run(folder: Path, index: int, model: Path):
    window = _loaded(folder, index, model)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 8, "max_length": 300})
    window.decode_actions.run.setChecked(True)
    window.toggle_run()
    _wait(lambda: window.state.snapshot is not None and window.state.snapshot.steps)
    return window, None


def scenario_load(folder: Path, index: int, model: Path):
    window = _window(folder, index)
    started, real = threading.Event(), inference.load_inference_model

    def slow_load(path, **kwargs):
        started.set()
        window.client.cancel_event.wait(10)
        return real(path, **kwargs)

    inference.load_inference_model = slow_load
    window.load_checkpoint(str(model))
    _wait(started.is_set)
    return window, lambda: setattr(inference, "load_inference_model", real)


def scenario_batch(folder: Path, index: int, model: Path):
    window = _loaded(folder, index, model)
    src = folder / f"in-{index}.txt"
    src.write_text("\n".join([SOURCE, "", "hallo welt !"] * 400) + "\n", encoding="utf-8")
    out = folder / f"out-{index}.txt"
    window.translate_file(str(src), str(out))
    _wait(lambda: window.progress.value() > 0)

    def check() -> None:
        partial = Path(str(out) + ".partial")
        if out.exists() == partial.exists():
            raise AssertionError("expected exactly one of the output and its .partial")
        if not (out if out.exists() else partial).read_text(encoding="utf-8").endswith("\n"):
            raise AssertionError("the output ends mid-line")

    return window, check


SCENARIOS = {"run": scenario_run, "load": scenario_load, "batch": scenario_batch}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    from attnscope.engine.devices import configure_threads
    from attnscope.gui.app import get_app
    from attnscope.gui.worker_client import wait_for_stopped_workers

    configure_threads(reserve_for_gui=1)  # as the app does: torch threads + the GUI thread
    app = get_app()
    qInstallMessageHandler(_record)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="attnscope-shutdown-") as scratch:
        folder = Path(scratch)
        model = write_tiny_translator(folder / "models")["translation"]
        for name, scenario in SCENARIOS.items():
            times, finished = [], 0
            for index in range(args.repeats):
                window, after = scenario(folder, index, model)
                start = time.perf_counter()
                window.close()
                times.append(time.perf_counter() - start)
                finished += window.client.thread.isFinished()
                if after is not None:
                    after()
                app.processEvents()
            figures[name] = {
                "close_s_median": round(statistics.median(times), 3),
                "close_s_max": round(max(times), 3),
                "thread_finished": f"{finished}/{args.repeats}",
            }
    figures["all_workers_ended"] = wait_for_stopped_workers()
    figures["qt_thread_warnings"] = warnings
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
