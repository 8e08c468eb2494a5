"""GUI responsiveness figures: offscreen, real window, real worker thread.

    python benchmarks/gui_bench.py [CHECKPOINT] [--steps 100] [--json OUT]

Prints JSON with:
- gui_step_ms: Step request -> snapshot drawn in the heat map (p50/p95/max over N steps)
- gui_max_stall_ms: longest gap of a 5 ms heartbeat timer while Run decodes
  50 tokens with beam 5 (eos banned until then), i.e. the worst freeze a user sees
- heatmap_200_update_ms: set tokens + matrix of a 200×200 attention and repaint
- keypress / keypress_xvfb: F10 pressed -> every view drawn, steps 150 ms apart, on a
  short and a long sentence, offscreen and on Xvfb (p50/p95/p99/max, and the
  event loop's stalls over the same time)
- startup_s: process start -> window shown with the checkpoint loaded (warm, fresh
  processes, timed on the wall clock from just before the start); window_shown_s:
  -> the window's first paint ("Loading…", usable); startup_cold_s: the first start
  (after dropping the page cache with ATTNSCOPE_BENCH_DROP_CACHES=1, as root)
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
        "p99": round(pick(0.99), 3),
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
        start = time.perf_counter()
        _wait_snapshot(window, window.step, lambda s: True)  # the next snapshot painted
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


def _run_until(condition, timeout_s: float = 60.0) -> bool:
    """Run the event loop until ``condition()`` holds (polled every millisecond)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    loop, poll = QEventLoop(), QTimer()
    poll.setTimerType(Qt.TimerType.PreciseTimer)
    deadline = time.perf_counter() + timeout_s

    def check() -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start(1)
    loop.exec()
    poll.stop()
    return condition()


def _pause(seconds: float) -> None:
    end = time.perf_counter() + seconds
    _run_until(lambda: time.perf_counter() >= end)


class Heartbeat:
    """Gaps (ms) between the beats of a 5 ms timer: how long the event loop was away."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._beat)
        self._timer.start(5)

    def _beat(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    def stop(self) -> dict[str, float]:
        self._timer.stop()
        return _percentiles(self.gaps)


def keypress_latency(window, source: str, samples: int, spacing_s: float = 0.15) -> dict:
    """F10 pressed (a real key event) -> every view drawn, ``samples`` times, ``spacing_s``
    apart; the decode restarts when it ends.

    "Drawn" is: the snapshot painted (``snapshotShown``) with the new step, no view job
    left in the window's frame scheduler (text and chips, candidates, beam tree), then
    the whole window repainted. The heartbeat over the whole run gives the stalls.
    """
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.translate_view.set_source(source)
    window.activateWindow()
    shown: list[int] = []
    window.snapshotShown.connect(lambda snapshot: shown.append(len(snapshot.steps)))
    times: list[float] = []
    heartbeat = Heartbeat()
    while len(times) < samples:
        snapshot = window.state.snapshot
        if snapshot is not None and snapshot.done:
            _wait_snapshot(window, window.reset, lambda s: not s.steps)
            snapshot = window.state.snapshot
        _pause(spacing_s)
        before = len(shown)
        start = time.perf_counter()
        QTest.keyClick(window, Qt.Key.Key_F10)
        # a new snapshot painted, and no view job left (frames holds them until they ran)
        drawn = _run_until(lambda n=before: len(shown) > n and not window.frames._jobs)
        QApplication.processEvents()  # the paint events the last jobs posted (dirty regions)
        if not drawn:
            raise RuntimeError("F10 drew no new step within 60 s")
        times.append((time.perf_counter() - start) * 1000)
    stalls = heartbeat.stop()
    return {
        **_percentiles(times),
        "spacing_ms": spacing_s * 1000,
        "source_words": len(source.split()),
        "stall_ms": stalls,
    }


def keypress_figures(window, samples: int) -> dict:
    """Key press -> all views drawn on a short and a long sentence (the model's first
    example, and its examples joined to one of 40-odd words)."""
    examples = list(window.state.summary.examples) or ["ein hund läuft ."]
    long_source = " ".join(examples)[:400]  # ~ 60 words: a long sentence, within limits
    return {
        "platform": _platform(),
        "short": keypress_latency(window, examples[0], samples),
        "long": keypress_latency(window, long_source, samples),
    }


def _platform() -> str:
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.platformName()


STARTUP_SCRIPT = """
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from attnscope.gui.app import create_window, get_app
app = get_app()
window = create_window(sys.argv[1], device="cpu", reserve_cores_for_gui=1)  # as `attnscope gui`
window.show()
shown = []
QTimer.singleShot(0, lambda: shown.append(time.time()))  # after the first paint
def ready(_summary):
    print(shown[0], time.time(), flush=True)
    window.close()
    app.quit()
window.modelLoaded.connect(ready)
app.exec()
"""
DROP_CACHES_ENV = "ATTNSCOPE_BENCH_DROP_CACHES"  # 1: drop the page cache before the cold start


def _drop_page_cache() -> bool:
    """Drop the OS page cache (root on Linux only, and only when DROP_CACHES_ENV is 1)."""
    if os.environ.get(DROP_CACHES_ENV) != "1":
        return False
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n", encoding="ascii")
    except OSError:
        return False
    return True


def _one_start(checkpoint: str) -> tuple[float, float]:
    """(window shown, checkpoint loaded) in seconds from just before the process was
    started, on the wall clock the child reads too (no process-start-time rounding)."""
    start = time.time()
    result = subprocess.run(
        [sys.executable, "-c", STARTUP_SCRIPT, checkpoint],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")},
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"start-up run failed: {result.stderr[-400:]}")
    shown, ready = (float(v) for v in lines[-1].split())
    return shown - start, ready - start


def startup_seconds(checkpoint: str, repeats: int = 3) -> dict:
    """Start -> window shown, and -> checkpoint loaded, in fresh processes: one cold start
    (after dropping the page cache when DROP_CACHES_ENV allows it and the OS lets us;
    else only the first start of this run), then ``repeats`` warm ones.

    Returns {"window_shown_s": ..., "checkpoint_ready_s": ... (warm, percentiles),
    "cold": {"window_shown_s", "checkpoint_ready_s", "page_cache_dropped"}}.
    """
    dropped = _drop_page_cache()
    cold_shown, cold_ready = _one_start(checkpoint)
    shown, ready = [], []
    for _ in range(repeats):
        first, last = _one_start(checkpoint)
        shown.append(first)
        ready.append(last)
    return {
        "window_shown_s": _percentiles(shown),
        "checkpoint_ready_s": _percentiles(ready),
        "cold": {
            "window_shown_s": round(cold_shown, 3),
            "checkpoint_ready_s": round(cold_ready, 3),
            "page_cache_dropped": dropped,
        },
    }


def measure(
    checkpoint: str | None = None,
    *,
    steps: int = 100,
    startup: bool = True,
    keypress: int = 100,
    keypress_only: bool = False,
) -> dict:
    path = _checkpoint(checkpoint)
    _app, window = _window(path)
    figures: dict = {"checkpoint": Path(path).name}
    if keypress:
        figures["keypress"] = keypress_figures(window, keypress)
    if keypress_only:
        window.close()
        return figures
    figures["gui_step_ms"] = step_latency(window, steps)
    figures["gui_run_stall"] = run_stall(window)
    figures["heatmap_200_ms"] = heatmap_update(window)
    window.close()
    if startup:
        times = startup_seconds(path)
        figures["startup_s"] = times["checkpoint_ready_s"]  # shown *and* loaded: the honest one
        figures["window_shown_s"] = times["window_shown_s"]
        figures["startup_cold_s"] = times["cold"]
    return figures


def keypress_on_xvfb(checkpoint: str | None, samples: int) -> dict:
    """``keypress_figures`` on a real X server (Xvfb, through xvfb-run), or why not."""
    import shutil

    runner = shutil.which("xvfb-run")
    if runner is None or shutil.which("Xvfb") is None:
        return {"error": "Xvfb is not installed (apt-get install xvfb)"}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "xvfb.json"
        command = [runner, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, __file__]
        command += [_checkpoint(checkpoint), "--keypress", str(samples), "--keypress-only"]
        env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
        done = subprocess.run(
            [*command, "--json", str(out)], capture_output=True, text=True, env=env, timeout=1200
        )
        if done.returncode != 0 or not out.is_file():
            return {"error": " | ".join(done.stderr.strip().splitlines()[-3:])}
        return json.loads(out.read_text(encoding="utf-8")).get("keypress", {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--keypress", type=int, default=100, help="samples per sentence")
    parser.add_argument("--keypress-only", action="store_true")
    parser.add_argument("--no-xvfb", action="store_true", help="offscreen only")
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    figures = measure(
        args.checkpoint,
        steps=args.steps,
        startup=not args.no_startup,
        keypress=args.keypress,
        keypress_only=args.keypress_only,
    )
    if not (args.keypress_only or args.no_xvfb) and args.keypress:
        figures["keypress_xvfb"] = keypress_on_xvfb(args.checkpoint, args.keypress)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
