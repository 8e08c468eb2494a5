"""Key press to every view drawn (issue 22): a real F10 key event, steps spaced apart, on a
short and a long sentence; the event loop's stalls over the same time."""

from __future__ import annotations

import time

from benchmarks.gui_harness import Heartbeat, pause, percentiles, run_until, wait_snapshot


def keypress_latency(window, source: str, samples: int, spacing_s: float = 0.15) -> dict:
    """F10 pressed (a real key event) -> every view drawn, ``samples`` times, ``spacing_s``
    apart; the decode restarts when it ends.

    "Drawn" is: the snapshot painted (``snapshotShown``) with the new step, no view job
    left in the window's frame scheduler (text and chips, candidates, beam tree), then
    the whole window repainted. The heartbeat over the whole run gives the stalls.
    ``gui_thread_cpu_ms``: the GUI thread's CPU time per press (the views' work, and
    the heartbeat's beats and each Reset's redraw): a machine's load moves it far less
    than the latencies.
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
    cpu_start = time.thread_time()  # this is the GUI thread: its CPU, whatever the load
    while len(times) < samples:
        snapshot = window.state.snapshot
        if snapshot is not None and snapshot.done:
            wait_snapshot(window, window.reset, lambda s: not s.steps)
        pause(spacing_s)
        before = len(shown)
        start = time.perf_counter()
        QTest.keyClick(window, Qt.Key.Key_F10)
        # a new snapshot painted, and no view job left (frames holds them until they ran):
        # checked when either happens, not polled
        drawn = run_until(
            lambda n=before: len(shown) > n and not window.frames._jobs,
            signals=(window.snapshotShown, window.frames.idle),
        )
        QApplication.processEvents()  # the paint events the last jobs posted (dirty regions)
        if not drawn:
            raise RuntimeError("F10 drew no new step within 60 s")
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (time.thread_time() - cpu_start) * 1000 / samples
    stalls = heartbeat.stop()
    return {
        **percentiles(times),
        "gui_thread_cpu_ms": round(cpu_ms, 2),
        "spacing_ms": spacing_s * 1000,
        "source_words": len(source.split()),
        "stall_ms": stalls,
    }


def keypress_figures(window, samples: int) -> dict:
    """Key press -> all views drawn on a short and a long sentence (the model's first
    example, and its examples joined to one of 40-odd words)."""
    from PySide6.QtGui import QGuiApplication

    examples = list(window.state.summary.examples) or ["ein hund läuft ."]
    long_source = " ".join(examples)[:400]  # ~ 60 words: a long sentence, within limits
    return {
        "platform": QGuiApplication.platformName(),
        "short": keypress_latency(window, examples[0], samples),
        "long": keypress_latency(window, long_source, samples),
    }
