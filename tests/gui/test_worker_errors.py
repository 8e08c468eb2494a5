"""The request guard every worker shares (gui/worker_errors.py): a failure is one line,
a cancel is a signal, ``busy`` ends unless a Run keeps it on."""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal

from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.gui.worker_errors import guarded_slot

log = logging.getLogger("attnscope.tests.worker_errors")


class _Worker(QObject):
    busy = Signal(bool)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._running = None
        self.seen_cancel: list[bool] = []
        self.busy_states: list[bool] = []
        self.failures: list[str] = []
        self.cancels = 0
        self.busy.connect(self.busy_states.append)
        self.failed.connect(self.failures.append)
        self.cancelled.connect(self._count_cancel)

    def _count_cancel(self) -> None:
        self.cancels += 1

    @guarded_slot(log)
    def refuse(self) -> None:
        raise AttnScopeError("That input does not fit.")

    @guarded_slot(log)
    def crash(self) -> None:
        raise RuntimeError("boom")

    @guarded_slot(log, clears_cancel=True)
    def cancel_inside(self) -> None:
        self.seen_cancel.append(self._cancel.is_set())
        raise DecodeCancelled("stopped")

    @guarded_slot(log)
    def start_run(self) -> None:
        self._running = True


def test_a_refusal_is_its_own_line_logged_without_a_traceback(qapp, caplog):
    worker = _Worker()
    caplog.set_level("INFO", logger=log.name)
    worker.refuse()
    assert worker.failures == ["That input does not fit."]
    assert worker.busy_states == [True, False]
    (record,) = caplog.records
    assert record.exc_info is None and "request refuse refused" in record.getMessage()


def test_an_unexpected_error_names_its_type_and_keeps_the_traceback(qapp, caplog):
    worker = _Worker()
    worker.crash()
    assert worker.failures == ["Unexpected error (RuntimeError): boom"]
    assert caplog.records[-1].exc_info is not None


def test_a_cancel_is_signalled_and_the_event_is_cleared_first(qapp):
    worker = _Worker()
    worker._cancel.set()  # an earlier request's cancel
    worker.cancel_inside()
    assert worker.seen_cancel == [False]
    assert worker.cancels == 1 and worker.failures == []
    assert worker.busy_states == [True, False]


def test_a_started_run_keeps_busy_on(qapp):
    worker = _Worker()
    worker.start_run()
    assert worker.busy_states == [True]
