"""The gui group of `attnscope bench`: GUI responsiveness, start-up and the Explain
panel's stall, each measured by a script of its own in a fresh process
(benchmarks/gui_bench.py, benchmarks/explain_gui.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.report import BenchContext, Report
from benchmarks.subprocesses import headless_env, run_json

KEYS = (
    "gui_step_p95_ms",
    "gui_max_stall_ms",
    "heatmap_200_update_ms",
    "startup_s",
    "explain_stall_ms",
    "gui_keypress_p95_ms",
    "gui_keypress_stall_p99_ms",
    "gui_keypress_cpu_ms",
    "startup_cold_s",
)
# run as: python gui_bench.py CHECKPOINT --json OUT [--steps N] [--no-startup]
GUI_SCRIPT = Path(__file__).with_name("gui_bench.py")
# top-level key -> where gui_bench.py's JSON holds it (the first path found wins)
GUI_FIGURES: dict[str, tuple[tuple[str, ...], ...]] = {
    "gui_step_p95_ms": (("gui_step_ms", "p95"), ("gui_step_p95_ms",)),
    "gui_max_stall_ms": (("gui_run_stall", "max_gap_ms"), ("gui_max_stall_ms",)),
    "heatmap_200_update_ms": (("heatmap_200_ms", "p50"), ("heatmap_200_update_ms",)),
    "startup_s": (("startup_s",),),
    # key press -> every view drawn, the long sentence, on Xvfb when it ran, else offscreen
    "gui_keypress_p95_ms": (("keypress_xvfb", "long", "p95"), ("keypress", "long", "p95")),
    "gui_keypress_stall_p99_ms": (
        ("keypress_xvfb", "long", "stall_ms", "p99"),
        ("keypress", "long", "stall_ms", "p99"),
    ),
    "gui_keypress_cpu_ms": (
        ("keypress_xvfb", "long", "gui_thread_cpu_ms"),
        ("keypress", "long", "gui_thread_cpu_ms"),
    ),
    "startup_cold_s": (("startup_cold_s", "checkpoint_ready_s"),),
}


def measure_gui(ctx: BenchContext, report: Report) -> None:
    """GUI responsiveness (and start-up) from benchmarks/gui_bench.py in a subprocess."""
    from attnscope.engine.resources import default_checkpoint

    keys, script = KEYS, GUI_SCRIPT
    checkpoint = ctx.checkpoint or default_checkpoint()
    if checkpoint is None:
        report.unmeasured(keys, "needs a checkpoint: none given and none bundled yet")
        return
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "gui.json"
        command = [sys.executable, str(script), str(checkpoint), "--json", str(out)]
        command += [] if ctx.size == "full" else ["--steps", "30", "--keypress", "20"]
        command += ["--no-startup"] if "startup" in ctx.skip else []
        try:
            run_json(command, env=headless_env(), timeout=1200, expect_json=False)
            result = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            report.unmeasured(keys, f"{script.name} failed: {exc}")
            return
    report.figures["gui"] = result
    if "error" in result.get("keypress_xvfb", {}):
        report.notes["gui_keypress_p95_ms"] = f"offscreen only: {result['keypress_xvfb']['error']}"
    for key, paths in GUI_FIGURES.items():
        value = next((v for v in (_lookup(result, p) for p in paths) if v is not None), None)
        if value is not None:
            report.values[key] = value
        elif key.startswith("startup") and "startup" in ctx.skip:
            report.notes[key] = "skipped (--skip startup)"
        else:
            report.notes[key] = f"{script.name} reported no {key}"
    _explain_gui(ctx, report)


def _lookup(data: Any, path: tuple[str, ...]) -> float | None:
    """The number at ``path`` in nested dicts (a dict there gives its median / p50)."""
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    if isinstance(data, dict):
        data = data.get("median", data.get("p50"))
    return float(data) if isinstance(data, int | float) and not isinstance(data, bool) else None


def _explain_gui(ctx: BenchContext, report: Report) -> None:
    """Issue 17's target: the longest event-loop stall while the Explain panel's attribution
    runs (≤ 20 ms, as for Run), from benchmarks/explain_gui.py in a subprocess (part of
    the gui group; ``--skip explain_stall`` leaves it out alone)."""
    from attnscope.engine.resources import default_checkpoint

    checkpoint = ctx.checkpoint or default_checkpoint()
    if "explain_stall" in ctx.skip or checkpoint is None:
        reason = (
            "skipped (--skip explain_stall)" if checkpoint else "needs a checkpoint: none bundled"
        )
        report.unmeasured(("explain_stall_ms",), reason)
        return
    script = Path(__file__).with_name("explain_gui.py")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "explain.json"
        command = [sys.executable, str(script), str(checkpoint), "--json", str(out)]
        try:
            run_json(command, env=headless_env(), timeout=1200, expect_json=False)
            result = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            report.unmeasured(("explain_stall_ms",), f"{script.name} failed: {exc}")
            return
    report.figures["explain_gui"] = result
    report.values["explain_stall_ms"] = result["explain_stall_ms"]
