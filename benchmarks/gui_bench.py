"""GUI responsiveness figures: offscreen, real window, real worker thread.

    python benchmarks/gui_bench.py [CHECKPOINT] [--steps 100] [--json OUT]
    python benchmarks/gui_bench.py [CHECKPOINT] --keypress 100 --keypress-only [--no-xvfb]

Prints JSON with:
- gui_step_ms: Step request -> snapshot drawn in the heat map (p50/p95/max over N steps)
- gui_max_stall_ms: longest gap of a 5 ms heartbeat timer while Run decodes
  50 tokens with beam 5 (eos banned until then), i.e. the worst freeze a user sees
- heatmap_200_update_ms: set tokens + matrix of a 200×200 attention and repaint
- draw_cpu_ms: GUI-thread CPU to draw one step in every view (a recorded decode
  replayed into the window, short and long sentence; least of 3 rounds per step)
- keypress / keypress_xvfb: F10 pressed -> every view drawn, steps 150 ms apart, on a
  short and a long sentence, offscreen and on Xvfb (p50/p95/p99/max, and the
  event loop's stalls over the same time)
- startup_s: process start -> window shown with the checkpoint loaded (warm, fresh
  processes, timed on the wall clock from just before the start); window_shown_s:
  -> the window's first paint ("Loading…", usable); startup_cold_s: the first start
  (after dropping the page cache with ATTNSCOPE_BENCH_DROP_CACHES=1, as root)
Nothing here passes or fails: it prints figures. A checkpoint that fails to load ends
it at once with the reason (exit code 1). The harness (a window on its worker thread,
event-loop waits, percentiles) is benchmarks/gui_harness.py; the key press figures are
gui_keypress.py, the start-up ones gui_startup.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, too

from benchmarks.gui_harness import (
    checkpoint_path,
    open_window,
    percentiles,
    run_until,
    wait_snapshot,
)
from benchmarks.gui_keypress import keypress_figures
from benchmarks.gui_startup import startup_seconds


def step_latency(window, steps: int) -> dict[str, float]:
    """Step (F10) -> the new row drawn, N times (the decode restarts when it ends)."""
    source = window.state.summary.examples[0] if window.state.summary.examples else "ein hund"
    window.translate_view.set_source(source)
    samples: list[float] = []
    while len(samples) < steps:
        if window.state.snapshot is not None and window.state.snapshot.done:
            wait_snapshot(window, window.reset, lambda s: not s.steps)
        start = time.perf_counter()
        wait_snapshot(window, window.step, lambda s: True)  # the next snapshot painted
        window.translate_view.heatmap.repaint()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


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
    wait_snapshot(window, window.toggle_run, lambda s: s.done)
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
    return percentiles(samples)


def draw_cpu(window, source: str, rounds: int = 3, max_steps: int = 60) -> dict:
    """GUI-thread CPU (ms, thread_time) to draw one step in every view, per step of a
    recorded decode of ``source`` (the window's settings, up to ``max_steps`` steps).

    The decode runs in this thread first; its snapshots are then given to the window's
    state one by one with the worker idle, each until no view job is left and the
    repaints are done. Per step the least of ``rounds`` (p50/p95 over the steps): the GUI
    thread's own cost, apart from the worker's step and from time spent waiting for a
    core (on a busy machine it still moves by a quarter between runs).
    """
    from PySide6.QtWidgets import QApplication

    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(window.state.summary.path, device="cpu")
    window.translate_view.set_source(source)
    session = model.open_session(source, window.requests.decode_config())
    snapshots = [session.snapshot()]
    while not session.done and len(snapshots) <= max_steps:
        session.step()
        snapshots.append(session.snapshot())
    frames = window.frames
    per_step: list[list[float]] = [[] for _ in snapshots]
    for _ in range(rounds):
        for cpu, snapshot in zip(per_step, snapshots, strict=True):
            start = time.thread_time()
            window.state.set_snapshot(snapshot)
            run_until(lambda: not frames._jobs and not frames._timer.isActive())
            QApplication.processEvents()
            cpu.append((time.thread_time() - start) * 1000)
    return {**percentiles([min(cpu) for cpu in per_step[1:]]), "rounds": rounds}


def measure(
    checkpoint: str | None = None,
    *,
    steps: int = 100,
    startup: bool = True,
    keypress: int = 100,
    keypress_only: bool = False,
) -> dict:
    path = checkpoint_path(checkpoint)
    _app, window = open_window(path)
    figures: dict = {"checkpoint": Path(path).name}
    if keypress:
        figures["keypress"] = keypress_figures(window, keypress)
    if keypress_only:
        window.close()
        return figures
    examples = list(window.state.summary.examples) or ["ein hund läuft ."]
    figures["draw_cpu_ms"] = {
        "short": draw_cpu(window, examples[0]),
        "long": draw_cpu(window, " ".join(examples)[:400]),  # as the key press's long one
    }
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
        command += [checkpoint_path(checkpoint), "--keypress", str(samples), "--keypress-only"]
        command += ["--no-xvfb"]  # the child is the run on Xvfb
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
    if not args.no_xvfb and args.keypress:  # --keypress-only too: Xvfb is the goal's platform
        figures["keypress_xvfb"] = keypress_on_xvfb(args.checkpoint, args.keypress)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
