"""FrameScheduler: keyed view jobs, one per event-loop turn, latest request wins."""

import time

import pytest

from attnscope.gui.frame_scheduler import FrameScheduler


@pytest.fixture
def scheduler(qtbot):
    return FrameScheduler(gap_s=0.0)


def test_a_job_requested_again_before_it_ran_runs_once_with_the_latest(qtbot, scheduler):
    ran = []
    scheduler.request("snapshot", lambda: ran.append("old"))
    scheduler.request("snapshot", lambda: ran.append("new"))
    qtbot.waitUntil(lambda: not scheduler.pending("snapshot"))
    assert ran == ["new"]


def test_each_job_runs_in_its_own_timer_callback(qtbot, scheduler):
    ran = []

    def first():
        ran.append("first")
        assert scheduler.pending("second")  # not run from inside this callback

    scheduler.request("first", first)
    scheduler.request("second", lambda: ran.append("second"))
    qtbot.waitUntil(lambda: len(ran) == 2)
    assert ran == ["first", "second"]


def test_due_jobs_run_by_priority_then_request_order(qtbot, scheduler):
    ran = []
    scheduler.request("tree", lambda: ran.append("tree"), priority=1)
    scheduler.request("a", lambda: ran.append("a"))
    scheduler.request("b", lambda: ran.append("b"))
    qtbot.waitUntil(lambda: len(ran) == 3)
    assert ran == ["a", "b", "tree"]


def test_not_before_holds_a_job_back_without_blocking_others(qtbot, scheduler):
    ran = []
    scheduler.request("later", lambda: ran.append("later"), not_before=time.perf_counter() + 0.05)
    scheduler.request("now", lambda: ran.append("now"))
    qtbot.waitUntil(lambda: ran == ["now"])
    qtbot.waitUntil(lambda: ran == ["now", "later"])


def test_run_now_and_cancel(qtbot, scheduler):
    ran = []
    scheduler.request("tree", lambda: ran.append("tree"), not_before=time.perf_counter() + 60)
    scheduler.request("gone", lambda: ran.append("gone"), not_before=time.perf_counter() + 60)
    scheduler.run_now("tree")
    scheduler.cancel("gone")
    assert ran == ["tree"]
    assert not scheduler.pending("tree") and not scheduler.pending("gone")
    scheduler.run_now("tree")  # nothing waiting: nothing runs
    assert ran == ["tree"]


def _posted_between(ran):
    """A job that posts a zero-delay timer: it lands between jobs of separate turns."""
    from PySide6.QtCore import QTimer

    def job():
        ran.append("a")
        QTimer.singleShot(0, lambda: ran.append("turn ended"))

    return job


def test_due_jobs_share_a_turn_while_it_lasts_less_than_turn_s(qtbot):
    scheduler = FrameScheduler(gap_s=0.01, turn_s=10.0)
    ran = []
    scheduler.request("a", _posted_between(ran))
    scheduler.request("b", lambda: ran.append("b"))
    qtbot.waitUntil(lambda: len(ran) == 3)
    assert ran == ["a", "b", "turn ended"]  # b ran in a's callback: one repaint for both


def test_a_job_that_outlasts_turn_s_ends_its_turn(qtbot):
    scheduler = FrameScheduler(gap_s=0.01, turn_s=1e-9)  # every job outlasts it
    ran = []
    scheduler.request("a", _posted_between(ran))
    scheduler.request("b", lambda: ran.append("b"))
    qtbot.waitUntil(lambda: len(ran) == 3)
    assert ran == ["a", "turn ended", "b"]


def test_idle_is_emitted_once_no_job_is_left_waiting(qtbot, scheduler):
    # the key-press bench waits on it (and on snapshotShown) instead of polling
    idle, ran = [], []
    scheduler.idle.connect(lambda: idle.append(list(ran)))
    scheduler.request("a", lambda: ran.append("a"))
    scheduler.request("b", lambda: ran.append("b"))
    qtbot.waitUntil(lambda: len(ran) == 2)
    qtbot.waitUntil(lambda: bool(idle))
    assert idle[-1] == ["a", "b"]  # not before the last job ran
    scheduler.request("held", lambda: ran.append("held"), not_before=time.perf_counter() + 60)
    count = len(idle)
    scheduler.cancel("held")  # a cancelled last job leaves the scheduler idle too
    assert len(idle) == count + 1 and ran == ["a", "b"]
