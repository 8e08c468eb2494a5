"""The app's start-up in fresh processes, on the wall clock the child reads too (no
process-start-time rounding): process start -> window shown (its first paint,
"Loading…", usable) and -> checkpoint loaded; warm, and one cold start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.gui_harness import percentiles

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
        "window_shown_s": percentiles(shown),
        "checkpoint_ready_s": percentiles(ready),
        "cold": {
            "window_shown_s": round(cold_shown, 3),
            "checkpoint_ready_s": round(cold_ready, 3),
            "page_cache_dropped": dropped,
        },
    }
