"""benchmarks/gui_bench.py run as a script: a checkpoint that fails to load ends it at
once with the reason, and the worker thread is stopped first (no Qt abort)."""

import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gui_bench.py"


def test_a_checkpoint_that_fails_to_load_ends_the_bench_at_once(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(bad), "--keypress-only", "--keypress", "1"],
        capture_output=True,
        text=True,
        timeout=110,  # the old bench waited 120 s here
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    seconds = time.monotonic() - start
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"could not load {bad}: "), done.stderr
    assert "QThread" not in done.stderr  # the worker thread stopped before the exit
    assert seconds < 60
