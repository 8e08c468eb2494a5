"""Closing the window while the worker is busy: it stops, the thread ends, nothing is torn.

Every test checks the Qt messages too (pytest-qt's ``qtlog`` captures them
through qInstallMessageHandler): no "QThread: Destroyed while thread is
still running", no timers touched from the wrong thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine import inference
from attnscope.engine.decoding import DecodeConfig
from attnscope.gui import worker_client as worker_module

CLOSE_BUDGET_S = 2.0
THREAD_TROUBLE = ("QThread", "Destroyed while", "another thread", "different thread", "killTimer")


def thread_trouble(qtlog) -> list[str]:
    return [r.message for r in qtlog.records if any(t in r.message for t in THREAD_TROUBLE)]


def close_and_time(window) -> float:
    start = time.perf_counter()
    window.close()
    return time.perf_counter() - start


def test_close_during_run(qtbot, qtlog, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 8, "max_length": 400})
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run)
    assert not snapshot.done  # the close below really interrupts a running decode
    elapsed = close_and_time(window)
    assert window.client.thread.isFinished()
    assert elapsed < CLOSE_BUDGET_S
    assert not window.isVisible()
    assert thread_trouble(qtlog) == []


def test_close_during_a_checkpoint_load(
    qtbot, qtlog, window, tiny_translation_checkpoint, monkeypatch
):
    """The load is still running when the window closes; it ends, then the thread does."""
    started = threading.Event()
    real_load = inference.load_inference_model
    cancel = window.client.cancel_event

    def slow_load(path, **kwargs):
        started.set()
        cancel.wait(10)  # stands for a long read: lasts until the window asks to stop
        return real_load(path, **kwargs)

    monkeypatch.setattr(inference, "load_inference_model", slow_load)
    window.load_checkpoint(str(tiny_translation_checkpoint))
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
    elapsed = close_and_time(window)
    assert window.client.thread.isFinished()
    assert elapsed < CLOSE_BUDGET_S
    assert thread_trouble(qtlog) == []


def test_close_during_a_batch_translation_leaves_complete_or_clearly_partial_output(
    qtbot, qtlog, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    lines = [SOURCE, "", "zwei hunde spielen im schnee ."] * 400
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    window.translate_file(str(src), str(out))
    # (not waitSignal on the worker's signal: its slot would run in the worker thread)
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=TIMEOUT)
    elapsed = close_and_time(window)
    assert window.client.thread.isFinished()
    assert elapsed < CLOSE_BUDGET_S
    assert thread_trouble(qtlog) == []
    partial = tmp_path / "out.txt.partial"
    assert out.exists() != partial.exists()  # exactly one of them
    written = (out if out.exists() else partial).read_text(encoding="utf-8")
    assert written.endswith("\n")  # whole lines only
    done = written.splitlines()
    assert len(done) == len(lines) if out.exists() else 0 < len(done) < len(lines)
    model = inference.load_inference_model(tiny_translation_checkpoint, device="cpu")
    first, third = (t.text for t in model.translate([lines[0], lines[2]], DecodeConfig()))
    assert done[:3] == [first, "", third]


def test_a_worker_busy_past_the_close_budget_is_kept_alive_until_it_ends(
    qtbot, qtlog, window, tiny_translation_checkpoint, monkeypatch
):
    """A load that cannot stop in time: the window still closes at once, and the running
    thread is kept (destroying it would abort the process) until it finishes by itself."""
    started, release = threading.Event(), threading.Event()
    real_load = inference.load_inference_model

    def stuck_load(path, **kwargs):
        started.set()
        release.wait(10)
        return real_load(path, **kwargs)

    monkeypatch.setattr(inference, "load_inference_model", stuck_load)
    window.shutdown_timeout_ms = 50
    window.load_checkpoint(str(tiny_translation_checkpoint))
    qtbot.waitUntil(started.is_set, timeout=TIMEOUT)
    window.close()
    thread = window.client.thread
    assert not window.isVisible() and thread.isRunning()
    assert any(kept is thread for kept, _ in worker_module._STILL_RUNNING)
    release.set()
    assert worker_module.wait_for_stopped_workers(TIMEOUT)
    assert thread.isFinished() and worker_module._STILL_RUNNING == []
    assert thread_trouble(qtlog) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="offscreen Qt in a subprocess")
def test_the_app_quits_with_code_0_soon_after_a_quit_mid_decode(
    tiny_translation_checkpoint, tmp_path
):
    """`python -m attnscope gui CKPT` with ATTNSCOPE_QUIT_AFTER_MS: ready, decoding, closed."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ATTNSCOPE_QUIT_AFTER_MS": "200",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the app's settings and autosave
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    command = [sys.executable, "-m", "attnscope", "gui", str(tiny_translation_checkpoint)]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}
    lines: list[str] = []

    def read() -> None:
        for line in process.stderr:
            lines.append(line)
            for marker in ("decode started", "exiting with code"):
                if marker in line:
                    seen.setdefault(marker, time.perf_counter())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=120)
    finally:
        process.kill()
    reader.join(10)
    exited = time.perf_counter()
    log = "".join(lines)
    assert code == 0, log[-3000:]
    assert {"decode started", "exiting with code"} <= set(seen), log[-3000:]
    # the window closes 200 ms after the decode started; the event loop ends soon after
    assert seen["exiting with code"] - seen["decode started"] < 0.2 + CLOSE_BUDGET_S, log
    # then only the interpreter's own teardown (torch's modules: seconds on a busy machine)
    assert exited - seen["exiting with code"] < 15, log
    assert "QThread" not in log and "Traceback" not in log
