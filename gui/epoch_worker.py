"""The run folder's worker: one input traced through every epoch of a training run.

``trace_run`` (engine/compare/epochs.py) loads each kept epoch in turn and forces one
fixed output through it: seconds to minutes, so it runs in a thread of its own (the
window's model worker and its decode are never touched), reports progress after each
epoch and stops at the next epoch when cancelled. Answers are plain data: the
RunFolder (with its skip messages) as soon as the folder is read, then the EpochTrace.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal, Slot

from attnscope.engine.errors import DecodeCancelled
from attnscope.gui.worker_client import start_worker_thread, stop_worker_thread
from attnscope.gui.worker_errors import report_failure

log = logging.getLogger(__name__)


class EpochWorker(QObject):
    """Reads a run folder and traces one input through its epochs."""

    runRead = Signal(object)  # RunFolder: its epochs, metrics and skip messages
    progress = Signal(int, int)  # epochs traced, total
    traced = Signal(object)  # EpochTrace
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, cancel_event: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_event

    @Slot(str, object, object, object, str)
    def trace(
        self, folder: str, source: object, reference: object, config: object, device: str
    ) -> None:
        """Read ``folder`` and force the final epoch's output (or ``reference``, when not
        None) for ``source`` through every epoch, decoding with ``config``."""
        self._cancel.clear()
        try:
            from attnscope.engine.compare.epochs import trace_run
            from attnscope.engine.compare.run_folder import load_run

            run = load_run(folder)
            self.runRead.emit(run)
            trace = trace_run(
                run,
                source,
                reference=reference or None,
                config=config,
                device=device,
                progress=self.progress.emit,
                cancel=self._cancel,
            )
        except DecodeCancelled:
            self.cancelled.emit()
        except Exception as exc:
            self.failed.emit(report_failure(log, f"tracing {folder}", exc))
        else:
            self.traced.emit(trace)


class EpochClient(QObject):
    """GUI-side handle on an EpochWorker: owns its thread, forwards, cancels, shuts down."""

    _trace = Signal(str, object, object, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.worker = EpochWorker(self.cancel_event)
        self.thread = start_worker_thread(self.worker, "attnscope-epoch-worker")
        self._trace.connect(self.worker.trace)

    def trace(self, folder: str, source, reference: str | None, config, device: str) -> None:
        """Trace ``source`` through the run in ``folder`` (a running trace stops first)."""
        self.cancel_event.set()
        self._trace.emit(folder, source, reference, config, device)

    def cancel(self) -> None:
        self.cancel_event.set()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the thread; True when it ended within ``timeout_ms``. A thread still busy
        (a checkpoint load cannot be interrupted) is kept until it ends, as the window's
        model worker is (worker_client.wait_for_stopped_workers): never destroyed running."""
        self.cancel_event.set()
        return stop_worker_thread(self.thread, self.worker, timeout_ms)
