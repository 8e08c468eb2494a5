"""GUI responsiveness figures: offscreen, real window, real worker thread.

    python benchmarks/gui_bench.py [CHECKPOINT] [--steps 100] [--json OUT]

Prints JSON with:
- gui_step_ms: Step request -> snapshot drawn in the heat map (p50/p95/max over N steps)
- gui_max_stall_ms: longest gap of a 5 ms heartbeat timer while Run decodes
  50 tokens with beam 5 (eos banned until then), i.e. the worst freeze a user sees
- heatmap_200_update_ms: set tokens + matrix of a 200×200 attention and repaint
- startup_s: process start -> window shown with the checkpoint loaded (subprocess);
  window_shown_s: process start -> the window's first paint ("Loading…", usable)
Nothing here passes or fails: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(pick(0.95), 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def _checkpoint(path: str | None) -> str:
    if path:
        return path
    from attnscope.engine.resources import default_checkpoint

    found = default_checkpoint()
    if found is None:
        raise SystemExit("no checkpoint given and none bundled")
    return str(found)


def _window(checkpoint: str):
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from attnscope.engine.devices import configure_threads
    from attnscope.gui.app import get_app
    from attnscope.gui.main_window import MainWindow

    configure_threads(reserve_for_gui=1)
    app = get_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, device="cpu")
    window.resize(1400, 900)
    window.show()
    loop = QEventLoop()
    window.modelLoaded.connect(loop.quit)
    window.load_checkpoint(checkpoint)
    QTimer.singleShot(120_000, loop.quit)
    loop.exec()
    if window.state.summary is None:
        raise SystemExit(f"could not load {checkpoint}")
    return app, window


def _wait_snapshot(window, action, check) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()

    def on_snapshot(snapshot) -> None:
        if check(snapshot):
            loop.quit()

    window.snapshotShown.connect(on_snapshot)
    QTimer.singleShot(60_000, loop.quit)
    action()
    loop.exec()
    window.snapshotShown.disconnect(on_snapshot)


def step_latency(window, steps: int) -> dict[str, float]:
    """Step (F10) -> the new row drawn, N times (the decode restarts when it ends)."""
    source = window.state.summary.examples[0] if window.state.summary.examples else "ein hund"
    window.translate_view.set_source(source)
    samples: list[float] = []
    while len(samples) < steps:
        if window.state.snapshot is not None and window.state.snapshot.done:
            _wait_snapshot(window, window.reset, lambda s: not s.steps)
        expected = 1 + (len(window.state.snapshot.steps) if window.state.snapshot else 0)
        start = time.perf_counter()
        _wait_snapshot(window, window.step, lambda s, n=expected: len(s.steps) >= n)
        window.translate_view.heatmap.repaint()
        samples.append((time.perf_counter() - start) * 1000)
    return _percentiles(samples)


def run_stall(window, tokens: int = 50, beam: int = 5) -> dict[str, float]:
    """Longest heartbeat gap while Run decodes ``tokens`` tokens with beam ``beam``."""
    from PySide6.QtCore import QTimer

    from attnscope.engine.decoding import DecodeConfig

    config = DecodeConfig(
        strategy="beam", beam_size=beam, min_length=tokens, max_length=tokens, max_length_ratio=0.0
    )
    window.requests.decode_config = lambda: config
    window.requests.forget()
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    timer.start()
    start = time.perf_counter()
    window.decode_actions.run.setChecked(True)
    _wait_snapshot(window, window.toggle_run, lambda s: s.done)
    seconds = time.perf_counter() - start
    timer.stop()
    return {
        "max_gap_ms": round(max(gaps), 3),
        "heartbeats": len(gaps),
        "tokens": tokens,
        "beam": beam,
        "run_s": round(seconds, 3),
    }


def heatmap_update(window, size: int = 200, repeats: int = 10) -> dict[str, float]:
    """Full redraw of a size×size attention matrix (tokens, data, repaint)."""
    import numpy as np

    heatmap = window.translate_view.heatmap
    rng = np.random.default_rng(0)
    source = [f"s{i}" for i in range(size)]
    target = [f"t{i}" for i in range(size)]
    samples = []
    for _ in range(repeats):
        matrix = rng.dirichlet(np.ones(size), size=size).astype(np.float32)
        start = time.perf_counter()
        heatmap.set_tokens(source, target)
        heatmap.set_matrix(matrix)
        heatmap.repaint()
        samples.append((time.perf_counter() - start) * 1000)
    return _percentiles(samples)


STARTUP_SCRIPT = """
import os, sys, time, psutil
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
started = psutil.Process().create_time()
from PySide6.QtCore import QTimer
from attnscope.gui.app import create_window, get_app
app = get_app()
window = create_window(sys.argv[1], device="cpu", reserve_cores_for_gui=1)  # as `attnscope gui`
window.show()
shown = []
QTimer.singleShot(0, lambda: shown.append(time.time() - started))  # after the first paint
def ready(_summary):
    print(shown[0], time.time() - started, flush=True)
    window.close()
    app.quit()
window.modelLoaded.connect(ready)
app.exec()
"""


def startup_seconds(checkpoint: str, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Process start -> window shown, and -> the checkpoint loaded, in fresh processes.

    Returns {"window_shown_s": ..., "checkpoint_ready_s": ...}: the window
    draws first ("Loading…"), the worker imports torch and loads after it.
    """
    shown, ready = [], []
    for _ in range(repeats):
        result = subprocess.run(
            [sys.executable, "-c", STARTUP_SCRIPT, checkpoint],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        )
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise RuntimeError(f"start-up run failed: {result.stderr[-400:]}")
        first, last = (float(v) for v in lines[-1].split())
        shown.append(first)
        ready.append(last)
    return {"window_shown_s": _percentiles(shown), "checkpoint_ready_s": _percentiles(ready)}


def measure(checkpoint: str | None = None, *, steps: int = 100, startup: bool = True) -> dict:
    path = _checkpoint(checkpoint)
    _app, window = _window(path)
    figures = {
        "checkpoint": Path(path).name,
        "gui_step_ms": step_latency(window, steps),
        "gui_run_stall": run_stall(window),
        "heatmap_200_ms": heatmap_update(window),
    }
    window.close()
    if startup:
        times = startup_seconds(path)
        figures["startup_s"] = times["checkpoint_ready_s"]  # shown *and* loaded: the honest one
        figures["window_shown_s"] = times["window_shown_s"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    figures = measure(args.checkpoint, steps=args.steps, startup=not args.no_startup)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
