"""The comparison's worker: two models decoding one input in lockstep, in a thread of its own.

Compare mode (gui/compare_mode.py) must leave the window's own decode exactly as it
was, so the pair lives in a second worker object with its own QThread and its own
copies of both models; the window's ModelWorker and its session are never touched.
Like ModelWorker it takes requests as queued signals (``CompareClient``) and answers
with plain data: ``ComparePair`` carries both view records, and, once both decodes
are done, the cross-scores (each output forced through the other model, as
`attnscope score` does).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.gui.worker_client import start_worker_thread, stop_worker_thread
from attnscope.gui.worker_errors import describe_error, guarded_slot, report_failure

log = logging.getLogger(__name__)

REPAINT_INTERVAL_S = 1 / 30  # pairs during Run are sent at most this often


@dataclass(frozen=True)
class ComparePair:
    """Both decodes at one moment: SessionSnapshots ``a`` and ``b``; once both are done,
    what engine/compare adds (None before, or where a part could not be made):

    a_by_b:    model B's ReferenceReport on A's output (its pieces of A's text, one
               log-prob each, then eos); b_by_a the reverse (the cross-scores)
    attention: the AttentionComparison of A's output forced through both models
    notes:     why a part is missing (an output a model cannot take, no attention)
    """

    a: Any
    b: Any
    a_by_b: Any = None
    b_by_a: Any = None
    attention: Any = None
    notes: tuple[str, ...] = ()


_guarded = guarded_slot(log, clears_cancel=True)  # the compare worker's request slots


class CompareWorker(QObject):
    """Owns models A and B and their LockstepPair (engine/compare/lockstep.py) on one input."""

    loaded = Signal(object, object)  # ModelSummary of A, of B
    loadFailed = Signal(str)  # the reason (another task, a bad file, ...)
    pair = Signal(object)  # ComparePair
    failed = Signal(str)
    cancelled = Signal()
    busy = Signal(bool)

    def __init__(self, cancel_event: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_event
        self._models: tuple = ()
        self._pair = None  # LockstepPair
        self._config = None
        self._scored: tuple = ((), None)  # ((text_a, text_b), CrossScores) of the last pair
        self._running = False
        self._last_emit = 0.0

    @Slot(str, str, str)
    def load(self, path_a: str, path_b: str, device: str) -> None:
        """Load A on ``device`` and B beside it; refuse a pair that does not compare."""
        self.busy.emit(True)
        try:
            from attnscope.engine.compare.compatibility import load_partner
            from attnscope.engine.inference import load_inference_model

            model_a = load_inference_model(path_a, device=device)
            model_b = load_partner(path_b, model_a)
        except Exception as exc:
            log.info("could not compare %s with %s: %s", path_a, path_b, exc)
            self.loadFailed.emit(describe_error(exc))
        else:
            self._models, self._pair = (model_a, model_b), None
            self.loaded.emit(model_a.summary(), model_b.summary())
        finally:
            self.busy.emit(False)

    @Slot(object, object)
    @_guarded
    def open_pair(self, source: object, config: object) -> None:
        """Encode ``source`` with both models and start both decodes with ``config``."""
        from attnscope.engine.compare.lockstep import LockstepPair

        self._stop_running()
        self._pair = None
        if not self._models:
            raise AttnScopeError("No pair of models is loaded: pick a checkpoint to compare.")
        self._pair = LockstepPair(*self._models, source, config, config)
        self._config = config
        self._emit(force=True)

    @Slot()
    @_guarded
    def step(self) -> None:
        """One step of each decode that is not done yet."""
        self._stop_running()
        pair = self._require_pair()
        if not pair.done:
            pair.step()
        self._emit(force=True)

    @Slot()
    @_guarded
    def back(self) -> None:
        """Undo the last pair step, on the sides it moved."""
        self._stop_running()
        self._require_pair().back()
        self._emit(force=True)

    @Slot()
    @_guarded
    def reset(self) -> None:
        self._stop_running()
        self._require_pair().reset()
        self._emit(force=True)

    @Slot()
    def run(self) -> None:
        """Step both until both are done or a new request cancels; one queued event per
        pair step so that Pause and new requests get through."""
        if self._pair is None or self._pair.done:
            return
        self._cancel.clear()
        self._running = True
        self.busy.emit(True)
        QTimer.singleShot(0, self._run_next)

    @Slot()
    def pause(self) -> None:
        self._stop_running()
        self._emit(force=True)

    def _run_next(self) -> None:
        if not self._running or self._pair is None:
            return
        if self._cancel.is_set():
            self._stop_running()
            self._emit(force=True)
            self.cancelled.emit()
            return
        try:
            self._pair.step()
            finished = self._pair.done
            self._emit(force=finished)
        except DecodeCancelled:
            self._stop_running()
            self.cancelled.emit()
            return
        except Exception as exc:
            self._stop_running()
            self.failed.emit(report_failure(log, "a compare step during run", exc))
            return
        if finished:
            self._stop_running()
        else:
            QTimer.singleShot(0, self._run_next)

    def _require_pair(self):
        if self._pair is None:
            raise AttnScopeError("Nothing to compare yet: enter a source first.")
        return self._pair

    def _stop_running(self) -> None:
        if self._running:
            self._running = False
            self.busy.emit(False)

    def _emit(self, *, force: bool) -> None:
        now = time.perf_counter()
        if self._pair is None or (not force and now - self._last_emit < REPAINT_INTERVAL_S):
            return
        self._last_emit = now
        a, b = self._pair.snapshots()
        if not (a.done and b.done):
            self.pair.emit(ComparePair(a, b))
            return
        self.pair.emit(self._finished(a, b))

    def _finished(self, a, b) -> ComparePair:
        """Both decodes done: each output forced through the other model (as `attnscope
        score`) and A's output through both, on one grid; kept while the outputs stay."""
        texts, finished = self._scored
        if texts != (a.target_text, b.target_text):
            finished = self._compare(a, b)
            self._scored = ((a.target_text, b.target_text), finished)
        return replace(finished, a=a, b=b)

    def _compare(self, a, b) -> ComparePair:
        from attnscope.engine.compare.attention import compare_attention
        from attnscope.engine.compare.scoring import force_output

        (model_a, model_b), source, notes = self._models, self._pair.source, []

        def forced(model, text: str, who: str):
            try:
                return force_output(model, source, text, self._config, cancel=self._cancel)
            except AttnScopeError as exc:  # an output a model cannot take (empty, ...)
                if isinstance(exc, DecodeCancelled):
                    raise
                notes.append(f"{who}: {exc}")
                return None

        b_scores_a = forced(model_b, a.target_text, "B scoring A's output")
        a_scores_b = forced(model_a, b.target_text, "A scoring B's output")
        a_own = forced(model_a, a.target_text, "A's output forced through A")
        attention = None
        if a_own is not None and b_scores_a is not None:
            try:
                attention = compare_attention(a_own.snapshot, b_scores_a.snapshot)
            except ValueError as exc:
                notes.append(f"attention not compared: {exc}")
        return ComparePair(
            a,
            b,
            a_by_b=None if b_scores_a is None else b_scores_a.report,
            b_by_a=None if a_scores_b is None else a_scores_b.report,
            attention=attention,
            notes=tuple(notes),
        )


class CompareClient(QObject):
    """GUI-side handle on a CompareWorker: owns its thread, forwards requests, shuts down."""

    _load = Signal(str, str, str)
    _open = Signal(object, object)
    _step = Signal()
    _back = Signal()
    _reset = Signal()
    _run = Signal()
    _pause = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.worker = CompareWorker(self.cancel_event)
        self.thread = start_worker_thread(self.worker, "attnscope-compare-worker")
        for signal, slot in (
            (self._load, self.worker.load),
            (self._open, self.worker.open_pair),
            (self._step, self.worker.step),
            (self._back, self.worker.back),
            (self._reset, self.worker.reset),
            (self._run, self.worker.run),
            (self._pause, self.worker.pause),
        ):
            signal.connect(slot)

    def load(self, path_a: str, path_b: str, device: str = "auto") -> None:
        self.cancel_event.set()
        self._load.emit(path_a, path_b, device)

    def open_pair(self, source: object, config: object) -> None:
        self.cancel_event.set()
        self._open.emit(source, config)

    def step(self) -> None:
        self._step.emit()

    def back(self) -> None:
        self.cancel_event.set()
        self._back.emit()

    def reset(self) -> None:
        self.cancel_event.set()
        self._reset.emit()

    def run(self) -> None:
        self._run.emit()

    def pause(self) -> None:
        self.cancel_event.set()
        self._pause.emit()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the thread; True when it ended within ``timeout_ms``. A thread still busy
        (a checkpoint load cannot be interrupted) is kept until it ends, as the window's
        model worker is (worker_client.wait_for_stopped_workers): never destroyed running."""
        self.cancel_event.set()
        return stop_worker_thread(self.thread, self.worker, timeout_ms)
