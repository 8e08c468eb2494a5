"""The one worker that owns the model: a QObject living in its own QThread.

The GUI thread never calls torch. It sends requests through ``WorkerClient``
(gui/worker_client.py, queued signals) and receives plain data back (``ModelSummary``,
``SessionSnapshot``, progress numbers, messages). Cancelling is cooperative:
a ``threading.Event`` checked between steps, so a new request or closing the
window stops a running decode at the next step boundary.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.gui.worker_errors import describe_error, release_cached_memory

if TYPE_CHECKING:
    from attnscope.engine import inference
    from attnscope.engine.decoding.step_loop import StepLoop

# torch and the engine are imported by the worker thread on its first request, so
# the window shows without waiting for them (seconds at start-up).

log = logging.getLogger(__name__)

REPAINT_INTERVAL_S = 1 / 30  # snapshots during Run are throttled to ~30 Hz


def _no_model_error(message: str) -> Exception:
    from attnscope.engine.inference import NoModelError

    return NoModelError(message)


def guarded(method: Callable) -> Callable:
    """Run a worker slot; any exception becomes a `failed` message, never a crash."""

    @functools.wraps(method)
    def wrapper(self: ModelWorker, *args: Any) -> None:
        self.busy.emit(True)
        try:
            method(self, *args)
        except DecodeCancelled:
            self.cancelled.emit()
        except Exception as exc:  # the one place exceptions become messages
            if isinstance(exc, AttnScopeError):  # bad input, said clearly: no traceback
                log.info("worker request %s refused: %s", method.__name__, exc)
            else:
                log.exception("worker request %s failed", method.__name__)
            release_cached_memory(exc)
            self.failed.emit(describe_error(exc))
        finally:
            if self._running is None:
                self.busy.emit(False)

    return wrapper


class ModelWorker(QObject):
    """Owns the model, the device and the current decode session."""

    loaded = Signal(object)  # ModelSummary
    loadFailed = Signal(str, str)  # path, message
    snapshot = Signal(object)  # SessionSnapshot
    failed = Signal(str)
    cancelled = Signal()
    busy = Signal(bool)
    batchProgress = Signal(int, int)  # lines done, total
    batchFinished = Signal(str, bool)  # output path, complete?
    pong = Signal(int)  # answers ping(serial): every earlier request has been handled
    referenceChecked = Signal(object)  # ReferenceReport, after the reference's snapshot

    def __init__(self, cancel_event: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_event
        self._model: inference.InferenceModel | None = None
        self._session = None
        self._running: StepLoop | None = None  # the step loop of a Run in progress
        self._last_emit = 0.0
        self._step_ms: list[float] = []

    # -- model -----------------------------------------------------------
    @Slot(int)
    def configure_threads(self, reserve_for_gui: int) -> None:
        """torch's CPU threads: every core but ``reserve_for_gui`` (imports torch here)."""
        from attnscope.engine.devices import configure_threads

        configure_threads(reserve_for_gui=reserve_for_gui)

    @Slot(str, str)
    def load_checkpoint(self, path: str, device: str) -> None:
        self._stop_running()
        self.busy.emit(True)
        try:
            from attnscope.engine.inference import load_inference_model

            model = load_inference_model(path, device=device)
        except Exception as exc:
            log.info("could not load %s: %s", path, exc)
            self.loadFailed.emit(path, describe_error(exc))
        else:
            self._model, self._session = model, None
            self.loaded.emit(model.summary())
        finally:
            self.busy.emit(False)

    # -- decoding --------------------------------------------------------
    @Slot(object, object)
    @guarded
    def open_session(self, source: object, decode_config: object) -> None:
        """Encode ``source`` (text or image input) and start a fresh decode."""
        self._stop_running()
        self._session = None
        model = self._require_model()
        self._session = model.open_session(source, decode_config)
        self._step_ms.clear()
        self._emit(force=True)

    @Slot(int)
    def ping(self, serial: int) -> None:
        self.pong.emit(serial)

    @Slot(object, object, object)
    @guarded
    def replay(self, source: object, decode_config: object, plan: object) -> None:
        """Reopen ``source`` and take the same steps again: a decode saved before a restart.

        ``plan`` holds one entry per step: None to step (the same model and
        settings choose the same token again), or the token id that was forced.
        """
        self._stop_running()
        self._session = None
        self._cancel.clear()
        opened = self._require_model().open_session(source, decode_config)
        try:
            opened.session.steps(until=len(plan), plan=plan, cancel=self._cancel).run()
        except DecodeCancelled:
            log.info("replay stopped after %d of %d steps", opened.session.step_index, len(plan))
        self._session = opened
        self._step_ms.clear()
        self._emit(force=True)

    @Slot(object, object, str)
    @guarded
    def check_reference(self, source: object, decode_config: object, reference: str) -> None:
        """Open ``source`` taking ``reference`` token by token, then say where the model (with
        ``decode_config``) would have chosen otherwise. A refused reference keeps the session."""
        from attnscope.engine.reference import force_reference

        self._stop_running()
        self._cancel.clear()
        model = self._require_model()
        session, report = force_reference(
            model, source, decode_config, reference, cancel=self._cancel
        )
        self._session = session
        self._step_ms.clear()
        self._emit(force=True)
        self.referenceChecked.emit(report)

    @Slot()
    @guarded
    def step(self) -> None:
        self._stop_running()
        session = self._require_session()
        if not session.done:
            self._timed(session.step)
        self._emit(force=True)

    @Slot()
    @guarded
    def back(self) -> None:
        self._stop_running()
        self._require_session().back()
        self._emit(force=True)

    @Slot()
    @guarded
    def reset(self) -> None:
        self._stop_running()
        self._require_session().reset()
        self._step_ms.clear()
        self._emit(force=True)

    @Slot(int, int)
    @guarded
    def force(self, token_id: int, at_step: int) -> None:
        """Rewind to ``at_step``, take ``token_id`` there, and keep the rest to Run."""
        self._stop_running()
        self._require_session().force(token_id, at_step=at_step)
        self._emit(force=True)

    @Slot()
    def run(self) -> None:
        """Step until done, paused or cancelled: the session's step loop, one queued event
        per step so that Pause and new requests get through between steps."""
        if self._session is None or self._session.done:
            return
        self._cancel.clear()
        self._running = self._session.session.steps(cancel=self._cancel)
        self.busy.emit(True)
        QTimer.singleShot(0, self._run_next)

    @Slot()
    def pause(self) -> None:
        self._stop_running()
        self._emit(force=True)

    def _run_next(self) -> None:
        loop = self._running
        if loop is None:
            return
        try:
            self._timed(loop.take_step)
        except DecodeCancelled:
            self._stop_running()
            self._emit(force=True)
            self.cancelled.emit()
            return
        except Exception as exc:
            log.exception("step failed during run")
            release_cached_memory(exc)
            self._stop_running()
            self.failed.emit(describe_error(exc))
            return
        if loop.finished or loop.stopped is not None:
            self._stop_running()
            self._emit(force=True)
            return
        self._emit(force=False)
        QTimer.singleShot(0, self._run_next)

    # -- batch -----------------------------------------------------------
    @Slot(str, str, object)
    @guarded
    def translate_file(self, src_path: str, out_path: str, decode_config: object) -> None:
        """Translate a text file line by line into ``out_path`` (temp file, then rename)."""
        self._stop_running()
        self._cancel.clear()
        model = self._require_model()
        complete = model.translate_file(
            src_path,
            out_path,
            decode_config,
            cancel=self._cancel,
            progress=self.batchProgress.emit,
        )
        self.batchFinished.emit(out_path, complete)

    # -- helpers ---------------------------------------------------------
    def _require_model(self) -> inference.InferenceModel:
        if self._model is None:
            raise _no_model_error("No checkpoint is loaded: open one with File > Open.")
        return self._model

    def _require_session(self):
        if self._session is None:
            raise _no_model_error("Nothing to decode yet: enter a source first.")
        return self._session

    def _timed(self, take_step: Callable[[], object]) -> None:
        """Take one step and keep how long it took (the status bar's ms/step)."""
        start = time.perf_counter()
        take_step()
        self._step_ms.append((time.perf_counter() - start) * 1000)

    def _stop_running(self) -> None:
        if self._running is not None:
            self._running = None
            self.busy.emit(False)

    def _emit(self, *, force: bool) -> None:
        now = time.perf_counter()
        if self._session is None or (not force and now - self._last_emit < REPAINT_INTERVAL_S):
            return
        self._last_emit = now
        self.snapshot.emit(self._session.snapshot(step_ms=self._step_ms))
