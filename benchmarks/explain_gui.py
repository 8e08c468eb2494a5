"""The app's responsiveness while the Explain panel's attribution runs (issue 17).

    python benchmarks/explain_gui.py [CHECKPOINT] [--methods saliency ig] [--json OUT]

Offscreen, real window, real worker thread, the real engine. The window decodes the
model's first example sentence, then the Explain panel attributes the whole output
with each method in turn while a 5 ms heartbeat timer runs in the GUI thread. Prints
JSON with, per method:
- stall_ms: the longest heartbeat gap while the attribution ran (the worst freeze
  a user sees), and the heartbeats counted;
- seconds: request -> answer drawn; steps and source tokens of the output explained.
``explain_stall_ms`` is the largest stall_ms over the methods. The first request
is a warm-up of one step with saliency, reported apart as ``warmup``: it shows the
panel for the first time (a new floating window and its first layout and paint)
and imports the attribution engine in the worker; ``idle_stall_ms`` is the longest gap
of the same heartbeat for IDLE_S with nothing running, the machine's own share of a
stall (other processes on a busy machine). Nothing passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.gui_harness import checkpoint_path, open_window, wait_snapshot

HEARTBEAT_MS = 5
IDLE_S = 2.0


def heartbeat_gaps(until) -> list[float]:
    """Gaps (ms) of a HEARTBEAT_MS timer in the GUI thread until ``until()`` is true."""
    from PySide6.QtCore import QEventLoop, QTimer

    gaps: list[float] = []
    last = [time.perf_counter()]
    loop = QEventLoop()

    def beat() -> None:
        now = time.perf_counter()
        gaps.append((now - last[0]) * 1000)
        last[0] = now
        if until():
            loop.quit()

    timer = QTimer()
    timer.setInterval(HEARTBEAT_MS)
    timer.timeout.connect(beat)
    timer.start()
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    timer.stop()
    return gaps


def explain_stall(window, method: str, scope: str) -> dict[str, float]:
    """Longest heartbeat gap while ``method`` explains ``scope`` of the shown decode."""
    tools = window.explain_tools
    controller = tools.controller
    tools.panel.set_method(method)
    answers = controller.answers
    start = time.perf_counter()
    tools.explain(scope)
    gaps = heartbeat_gaps(lambda: controller.answers > answers)
    seconds = time.perf_counter() - start
    snapshot = window.state.snapshot
    return {
        "stall_ms": round(max(gaps), 3) if gaps else None,
        "heartbeats": len(gaps),
        "seconds": round(seconds, 3),
        "answered": controller.answers > answers,
        "steps": len(snapshot.steps),
        "source_tokens": len(snapshot.source_pieces),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--methods", nargs="+", default=["saliency", "ig"])
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    checkpoint = checkpoint_path(args.checkpoint)
    _app, window = open_window(checkpoint)
    summary = window.state.summary
    window.translate_view.set_source(summary.examples[0] if summary.examples else "ein hund .")
    window.decode_actions.run.setChecked(True)
    wait_snapshot(window, window.toggle_run, lambda s: s.done)
    result = {"checkpoint": Path(checkpoint).name, "heartbeat_ms": HEARTBEAT_MS}
    idle_until = time.perf_counter() + IDLE_S
    result["idle_stall_ms"] = round(
        max(heartbeat_gaps(lambda: time.perf_counter() > idle_until)), 3
    )
    window.select_step(0)
    result["warmup"] = explain_stall(window, "saliency", "step")
    result["methods"] = {m: explain_stall(window, m, "output") for m in args.methods}
    stalls = [r["stall_ms"] for r in result["methods"].values() if r["stall_ms"] is not None]
    result["explain_stall_ms"] = max(stalls) if stalls else None
    window.close()
    text = json.dumps(result, indent=1)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
