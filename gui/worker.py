"""The one worker that owns the model: a QObject living in its own QThread.

The GUI thread never calls torch. It sends requests through ``WorkerClient``
(gui/worker_client.py, queued signals) and receives plain data back (``ModelSummary``,
``SessionSnapshot``, progress numbers, messages). Cancelling is cooperative:
a ``threading.Event`` checked between steps, so a new request or closing the
window stops a running decode at the next step boundary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal, Slot

from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.gui.worker_debugger import DebuggerRequests
from attnscope.gui.worker_errors import describe_error, guarded_slot, report_failure

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


guarded = guarded_slot(log)  # the model worker's request slots


# The app sorts a file's lines by length only inside windows of one batch (the CLI uses
# large windows): closing the window mid-file keeps every finished batch in the .partial
# output, so at most one batch of work is lost.
APP_FILE_WINDOW = 32


class ModelWorker(DebuggerRequests):
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
    replayed = Signal(object, object)  # (ReplayPlan, SessionSnapshot) after its replay

    def __init__(self, cancel_event: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel_event
        self._model: inference.InferenceModel | None = None
        self._session = None
        self._running: StepLoop | None = None  # the step loop of a Run in progress
        self._last_emit = 0.0
        self._step_ms: list[float] = []
        self._int8 = False  # int8 weights asked for (View > Device)

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
            self._apply_int8()
            self.loaded.emit(self._summary())
        finally:
            self.busy.emit(False)

    @Slot(bool)
    def set_int8(self, on: bool) -> None:
        """int8 weights (engine/quantize.py) on or off; a loaded model switches at once and
        is announced again, as after a load."""
        self._int8 = on
        if self._model is not None:
            self._stop_running()
            self._session = None
            self._apply_int8()
            self.loaded.emit(self._summary())

    @Slot(str, str)
    @guarded
    def set_languages(self, source: str, target: str) -> None:
        """A multilingual folder's language pair (engine/hf/multilingual.py); the model is
        announced again, as after a load, so the window decodes anew with it."""
        model = self._require_model()
        self._stop_running()
        model.set_languages(source=source, target=target)  # LanguageError: nothing changed
        self._session = None
        self.loaded.emit(self._summary())

    def _apply_int8(self) -> None:
        from attnscope.engine.quantize import switch_int8

        try:
            switch_int8(self._model, self._int8)
        except AttnScopeError as exc:  # not on the CPU: the float32 model stays
            self.failed.emit(describe_error(exc))

    def _summary(self):
        """The loaded model's summary, its device marked when int8 weights are on."""
        from dataclasses import replace

        from attnscope.engine.quantize import is_int8

        summary = self._model.summary()
        if is_int8(self._model.model):
            summary = replace(summary, device=f"{summary.device} (int8 weights)")
        return summary

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
        """Reopen ``source`` and retake a saved decode's steps through the one step loop.

        ``plan`` is a ReplayPlan (engine/session_replay.py: the steps and the
        interventions of a session file; answered with ``replayed`` after the snapshot)
        or the autosave's form, one entry per step: None to step (the same model and
        settings choose the same token again), or the token id that was forced.
        """
        from attnscope.engine.session_replay import ReplayPlan, open_for_replay, replay_steps

        self._stop_running()
        self._session = None
        self._cancel.clear()
        replay = plan if isinstance(plan, ReplayPlan) else ReplayPlan.from_token_plan(plan)
        opened = open_for_replay(self._require_model(), source, decode_config, replay)
        try:
            replay_steps(opened, replay, cancel=self._cancel)
        except DecodeCancelled:
            log.info("replay stopped after %d of %d steps", opened.step_index, replay.steps)
        self._session = opened
        self._step_ms.clear()
        self._emit(force=True)
        if replay is plan:
            self.replayed.emit(plan, opened.snapshot())

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
        """One step; a breakpoint that fires on it is reported (Step never skips one)."""
        self._stop_running()
        session = self._require_session()
        if session.done:
            self._emit(force=True)
            return
        hook, reason = self._stop_hook(), []
        self._timed(lambda: reason.append(self._hit(hook, session.step())))
        self._emit(force=True)
        self._report_hit(reason[0])

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
        self._running = self._session.session.steps(cancel=self._cancel, stop=self._stop_hook())
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
            self._stop_running()
            self.failed.emit(report_failure(log, "a step during run", exc))
            return
        if loop.finished or loop.stopped is not None:
            self._stop_running()
            self._emit(force=True)
            self._report_hit(loop.stopped)
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
            window=APP_FILE_WINDOW,
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

    # -- image what-if (issue 18) ------------------------------------------------
    maskedCaption = Signal(object)  # MaskedCaption: after the first new token, then when done

    @Slot(object, object)
    @guarded
    def recaption_masked(self, request: object, decode_config: object) -> None:
        """Caption ``request.picture`` with ``request.mask`` filled (gui/image_what_if.py) in
        a session of its own, so the shown decode stays as it is; the same settings."""
        from attnscope.engine.decoding import DecodeConfig
        from attnscope.engine.image_masks import mask_image
        from attnscope.gui.image_what_if import MaskedCaption

        self._cancel.clear()
        model = self._require_model()
        picture = mask_image(  # grey = the mean colour the model normalises with
            request.picture, request.mask, request.fill, request.seed, mean=model.image_mean
        )
        opened = model.open_session(picture, decode_config or DecodeConfig())
        loop = opened.session.steps(cancel=self._cancel)
        loop.take_step()
        first_ms = (time.perf_counter() - request.requested_at) * 1000
        self.maskedCaption.emit(MaskedCaption(request.serial, opened.snapshot(), first_ms, False))
        loop.run()
        self.maskedCaption.emit(MaskedCaption(request.serial, opened.snapshot(), first_ms, True))

    # -- explain a step (issue 17) ------------------------------------------------
    explained = Signal(object)  # ExplainAnswer (gui/explain_job.py)
    explainProgress = Signal(int, int, int)  # serial, steps done, total; at most ~30 Hz

    @Slot(object)
    @guarded
    def explain(self, request: object) -> None:
        """Attribute ``request``'s steps of the shown decode onto its input (an ExplainRequest:
        the tokens are teacher-forced as shown); answers ``explained``, or ``cancelled``."""
        from attnscope.gui.explain_job import run_explain, throttled

        self._cancel.clear()
        progress = throttled(self.explainProgress.emit, request.serial)
        model = self._require_model()
        self.explained.emit(run_explain(model, request, cancel=self._cancel, progress=progress))
