"""View updates as separate turns of the event loop, a gap apart.

During Run the worker sends ~30 snapshots a second, and each painted snapshot
touches the heat map, the chips, the candidates and (a few times a second) the
beam tree. Done in one callback, that work and the repaint it causes freeze
the window for their sum. ``FrameScheduler`` runs each kind of update as its
own job: one job per timer callback, the next one no sooner than ``gap_s``
after the previous returned, so the repaint of one job and any waiting input
are handled before the next job starts. Jobs are keyed; a job requested again
before it ran is replaced (the latest snapshot wins).

Cheap jobs may share a turn (``turn_s``): after a job, the next due one runs in
the same callback while the turn has lasted less than ``turn_s``. One Step's
chips, candidates and beam tree are then repainted in one pass, not three,
each pass a window repaint (a flush to the X server) and a gap; a costly job
(the heat map of a long sentence) still ends its turn.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal


class FrameScheduler(QObject):
    """Runs keyed jobs one per event-loop turn, at least ``gap_s`` apart; with
    ``turn_s`` > 0, due jobs share a turn while it has lasted less than ``turn_s``.

    Of the jobs that are due, the one with the lowest ``priority`` runs first
    (then the oldest request). ``idle`` is emitted when no job is left waiting
    (the last one ran, or was cancelled): every view drawn, their repaints posted.
    """

    idle = Signal()

    def __init__(self, parent: QObject | None = None, *, gap_s: float, turn_s: float = 0.0) -> None:
        super().__init__(parent)
        self.gap_s = gap_s
        self.turn_s = turn_s
        # key -> (job, not before, priority), in request order
        self._jobs: dict[str, tuple[Callable[[], None], float, int]] = {}
        self._free_at = 0.0  # perf_counter time before which no job starts
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)  # a coarse timer may fire early
        self._timer.timeout.connect(self._run_due)

    def request(
        self, key: str, job: Callable[[], None], *, not_before: float = 0.0, priority: int = 0
    ) -> None:
        """Run ``job`` in a turn of its own, replacing a waiting job of the same ``key``.

        ``not_before``: a perf_counter time it must not run before.
        """
        self._jobs.pop(key, None)  # a repeated request goes to the back of the queue
        self._jobs[key] = (job, not_before, priority)
        self._arm()

    def cancel(self, key: str) -> None:
        self._jobs.pop(key, None)
        self._arm()

    def pending(self, key: str) -> bool:
        return key in self._jobs

    def run_now(self, key: str) -> None:
        """Run the waiting ``key`` job at once (e.g. a click needs what it will draw)."""
        entry = self._jobs.pop(key, None)
        if entry is not None:
            self._run(entry[0])
            self._arm()

    def _arm(self) -> None:
        if not self._jobs:
            self._timer.stop()
            self.idle.emit()
            return
        if self._free_at == math.inf:  # a job is running; its end arms the timer
            return
        due = max(self._free_at, min(not_before for _, not_before, _ in self._jobs.values()))
        wait_ms = max(0, math.ceil((due - time.perf_counter()) * 1000))
        if not self._timer.isActive() or self._timer.remainingTime() > wait_ms:
            self._timer.start(wait_ms)

    def _run_due(self) -> None:
        turn_start = now = time.perf_counter()
        if now < self._free_at:
            self._arm()
            return
        while (key := self._next_due(now)) is not None:
            self._run(self._jobs.pop(key)[0])
            now = time.perf_counter()
            if now - turn_start >= self.turn_s:
                break
        self._arm()

    def _next_due(self, now: float) -> str | None:
        """The key of the due job that runs first (lowest priority, then oldest), or None."""
        due = [
            (priority, n, key)
            for n, (key, (_, not_before, priority)) in enumerate(self._jobs.items())
            if not_before <= now
        ]
        return min(due)[2] if due else None

    def _run(self, job: Callable[[], None]) -> None:
        self._free_at = math.inf  # jobs requested by this one wait for its end (armed below)
        try:
            job()
        finally:
            self._free_at = time.perf_counter() + self.gap_s
