"""The GUI benches' harness: a real window on a real worker thread, driven through the
event loop (waiting for a snapshot, a condition, a pause) and timed (percentiles, a
heartbeat that measures the event loop's stalls).

Shared by benchmarks/gui_bench.py, gui_keypress.py and explain_gui.py.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

LOAD_TIMEOUT_S = 120  # a checkpoint that neither loads nor fails within this is reported


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99/max (rounded to µs) and n of ``samples`` (the nearest-rank value)."""
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(pick(0.95), 3),
        "p99": round(pick(0.99), 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }


def checkpoint_path(path: str | None) -> str:
    """``path``, else the bundled default checkpoint (SystemExit when there is none)."""
    if path:
        return path
    from attnscope.engine.resources import default_checkpoint

    found = default_checkpoint()
    if found is None:
        raise SystemExit("no checkpoint given and none bundled")
    return str(found)


def open_window(checkpoint: str):
    """(app, MainWindow) shown at 1400x900 with ``checkpoint`` loaded, settings in a
    temporary file. A checkpoint that fails to load ends the bench at once with the
    worker's message (SystemExit), after the worker thread has stopped."""
    from PySide6.QtCore import QEventLoop, QObject, QSettings, QTimer, Slot

    from attnscope.engine.devices import configure_threads
    from attnscope.gui.app import get_app
    from attnscope.gui.main_window import MainWindow

    class LoadWatch(QObject):  # a GUI-thread receiver: the worker's signal arrives queued
        failure = ""

        @Slot(str, str)
        def on_failed(self, _path: str, message: str) -> None:
            self.failure = message
            loop.quit()

    configure_threads(reserve_for_gui=1)
    app = get_app()
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, device="cpu")
    window.resize(1400, 900)
    window.show()
    loop, watch = QEventLoop(), LoadWatch()
    window.modelLoaded.connect(loop.quit)
    window.client.worker.loadFailed.connect(watch.on_failed)
    window.load_checkpoint(checkpoint)
    QTimer.singleShot(LOAD_TIMEOUT_S * 1000, loop.quit)
    loop.exec()
    if window.state.summary is None:
        window.close()  # stops the worker thread: no "QThread destroyed" abort
        reason = watch.failure or f"it did not load within {LOAD_TIMEOUT_S} s"
        raise SystemExit(f"could not load {checkpoint}: {reason}")
    return app, window


def wait_snapshot(window, action, check) -> None:
    """Call ``action`` and run the event loop until a snapshot passing ``check`` is shown
    (at most 60 s)."""
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


def run_until(condition, timeout_s: float = 60.0, *, signals=()) -> bool:
    """Run the event loop until ``condition()`` holds: checked when one of ``signals`` is
    emitted, else polled every millisecond (a poll costs the GUI thread ~1 ms of CPU a
    key press and rounds the time up to the next millisecond)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    loop, poll = QEventLoop(), QTimer()
    poll.setTimerType(Qt.TimerType.PreciseTimer)
    deadline = time.perf_counter() + timeout_s

    def check(*_args) -> None:
        if condition() or time.perf_counter() > deadline:
            loop.quit()

    for signal in signals:
        signal.connect(check)
    poll.timeout.connect(check)
    poll.start(1 if not signals else 100)  # with signals, only the deadline is polled
    if not condition():
        loop.exec()
    poll.stop()
    for signal in signals:
        signal.disconnect(check)
    return condition()


def pause(seconds: float) -> None:
    """Run the event loop for ``seconds`` (one precise timer: nothing polls meanwhile)."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    loop, timer = QEventLoop(), QTimer()
    timer.setSingleShot(True)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(loop.quit)
    timer.start(max(0, round(seconds * 1000)))
    loop.exec()


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
        return percentiles(self.gaps)
