"""Running a benchmark script in a fresh process: the checkout's environment, and the
JSON it answers with."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

# The source checkout this package sits in: its subprocesses import `benchmarks` from there.
CHECKOUT = Path(__file__).resolve().parents[1]


def run_json(
    command: list[str],
    payload: dict | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    expect_json: bool = True,
) -> dict:
    """Run ``command`` (+ a JSON file holding ``payload``); parse its last stdout line as JSON.

    Raises ValueError (non-zero exit, no output), subprocess.TimeoutExpired or OSError.
    """
    with tempfile.TemporaryDirectory() as folder:
        if payload is not None:
            path = Path(folder) / "workload.json"
            path.write_text(json.dumps(payload), encoding="utf-8")
            command = [*command, str(path)]
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise ValueError(f"exit code {done.returncode}: {tail}")
    if not expect_json:
        return {}
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise ValueError("no output")
    return json.loads(lines[-1])


def checkout_env() -> dict[str, str]:
    """This environment with the checkout first on PYTHONPATH, so `benchmarks` imports there."""
    paths = [str(CHECKOUT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def headless_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """``checkout_env`` plus ``extra``; Qt draws offscreen where there is no display."""
    env = {**checkout_env(), **(extra or {})}
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env
