"""``WorkerClient``: the GUI thread's handle on the model worker (gui/worker.py).

It owns the worker's QThread, forwards each request as a queued signal (so
the slot runs in the worker's thread), sets the cancel flag a new request
needs, and shuts the thread down when the window closes.
"""

from __future__ import annotations

import logging
import threading
import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from attnscope.gui.worker import ModelWorker

log = logging.getLogger(__name__)

# Worker threads that outlived WorkerClient.shutdown's wait (a long checkpoint load):
# destroying a running QThread aborts the process, so they are kept until they end.
_STILL_RUNNING: list[tuple[QThread, QObject]] = []


class WorkerClient(QObject):
    """GUI-side handle: owns the thread, forwards requests, shuts down cleanly."""

    _load = Signal(str, str)
    _open = Signal(object, object)
    _replay = Signal(object, object, object)
    _reference = Signal(object, object, str)
    _step = Signal()
    _back = Signal()
    _reset = Signal()
    _run = Signal()
    _pause = Signal()
    _force = Signal(int, int)
    _breakpoints = Signal(object)
    _edit_attention = Signal(int, object)
    _undo_edit = Signal(int)
    _scores = Signal()
    _translate_file = Signal(str, str, object)
    _ping = Signal(int)
    _configure = Signal(int)
    _int8 = Signal(bool)
    _languages = Signal(str, str)
    answered = Signal(int)  # the worker answered ping(serial); emitted in the GUI thread

    def __init__(
        self, parent: QObject | None = None, *, reserve_cores_for_gui: int | None = None
    ) -> None:
        """``reserve_cores_for_gui``: when given, the worker sets torch's thread count first."""
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self.worker = ModelWorker(self.cancel_event)
        self.thread = start_worker_thread(self.worker, "attnscope-model-worker")
        for signal, slot in (
            (self._load, self.worker.load_checkpoint),
            (self._open, self.worker.open_session),
            (self._replay, self.worker.replay),
            (self._reference, self.worker.check_reference),
            (self._step, self.worker.step),
            (self._back, self.worker.back),
            (self._reset, self.worker.reset),
            (self._run, self.worker.run),
            (self._pause, self.worker.pause),
            (self._force, self.worker.force),
            (self._breakpoints, self.worker.set_breakpoints),
            (self._edit_attention, self.worker.edit_attention),
            (self._undo_edit, self.worker.undo_edit),
            (self._scores, self.worker.attention_scores),
            (self._translate_file, self.worker.translate_file),
            (self._ping, self.worker.ping),
            (self._configure, self.worker.configure_threads),
            (self._int8, self.worker.set_int8),
            (self._languages, self.worker.set_languages),
            (self._recaption_masked, self.worker.recaption_masked),
            (self._explain, self.worker.explain),
        ):
            signal.connect(slot)
        self.worker.pong.connect(self._on_pong)
        self._reserve_cores = reserve_cores_for_gui  # sent before the first load

    def load_checkpoint(self, path: str, device: str = "auto") -> None:
        self.cancel()
        if self._reserve_cores is not None:
            self._configure.emit(self._reserve_cores)
            self._reserve_cores = None
        self._load.emit(path, device)

    def set_int8(self, on: bool) -> None:
        """int8 weights on or off for this and every later load (the worker announces the
        switched model with ``loaded``)."""
        self.cancel()
        self._int8.emit(on)

    def set_languages(self, source: str, target: str) -> None:
        """A multilingual folder's source and target codes (the worker announces the model
        again with ``loaded``, and the window decodes anew)."""
        self.cancel()
        self._languages.emit(source, target)

    def open_session(self, source: object, decode_config: object) -> None:
        self.cancel()
        self._open.emit(source, decode_config)

    def replay(self, source: object, decode_config: object, plan) -> None:
        """Open ``source`` and retake its steps: a restored decode. ``plan``: a ReplayPlan
        (a session file's interventions), or per step None (step) or an id (force)."""
        self.cancel()
        self._replay.emit(source, decode_config, tuple(plan) if isinstance(plan, list) else plan)

    def check_reference(self, source: object, decode_config: object, reference: str) -> None:
        """Open ``source`` forcing ``reference``; answers with a snapshot and referenceChecked."""
        self.cancel()
        self._reference.emit(source, decode_config, reference)

    def step(self) -> None:
        self._step.emit()

    def back(self) -> None:
        self.cancel()
        self._back.emit()

    def reset(self) -> None:
        self.cancel()
        self._reset.emit()

    def run(self) -> None:
        self._run.emit()

    def pause(self) -> None:
        self.cancel()
        self._pause.emit()

    def force(self, token_id: int, at_step: int) -> None:
        self.cancel()
        self._force.emit(token_id, at_step)

    def set_breakpoints(self, conditions) -> None:
        """The breakpoint conditions (engine dicts) the next Run and Step obey."""
        self._breakpoints.emit(tuple(conditions))

    def edit_attention(self, at_step: int, weights) -> None:
        """Retake step ``at_step`` with attention ``weights`` (heads, S); answers whatIfBase."""
        self.cancel()
        self._edit_attention.emit(at_step, weights)

    def undo_edit(self, at_step: int) -> None:
        self.cancel()
        self._undo_edit.emit(at_step)

    def attention_scores(self) -> None:
        """Ask for the shown hypothesis's raw attention scores (answers scoresReady)."""
        self._scores.emit()

    def translate_file(self, src: str, out: str, decode_config: object) -> None:
        self.cancel()
        self._translate_file.emit(src, out, decode_config)

    def ping(self, serial: int) -> None:
        """Ask for ``answered(serial)``: arrives once the worker handled all earlier requests."""
        self._ping.emit(serial)

    @Slot(int)
    def _on_pong(self, serial: int) -> None:
        self.answered.emit(serial)

    def cancel(self) -> None:
        """Ask whatever is running to stop at its next step boundary."""
        self.cancel_event.set()

    def shutdown(self, timeout_ms: int = 2000) -> bool:
        """Stop the worker thread; True when it ended within ``timeout_ms``.

        A request that cannot be interrupted (a checkpoint load) may outlast
        the wait: the thread is then kept alive until it ends by itself (see
        ``wait_for_stopped_workers``), never destroyed while running.
        """
        self.cancel()
        if stop_worker_thread(self.thread, self.worker, timeout_ms):
            return True
        log.warning("the model worker is still busy after %d ms; it ends on its own", timeout_ms)
        return False

    _recaption_masked = Signal(object, object)

    def recaption_masked(self, request: object, decode_config: object) -> None:
        """Caption a masked copy of the picture beside the shown decode (the image what-if);
        answers with worker.maskedCaption. Does not cancel the shown decode's work."""
        self._recaption_masked.emit(request, decode_config)

    _explain = Signal(object)

    def explain(self, request: object) -> None:
        """Attribute the steps of an ExplainRequest (gui/explain_job.py); answers with
        worker.explained. ``cancel()`` stops it; a Run in progress goes on after it."""
        self._explain.emit(request)


def start_worker_thread(worker: QObject, name: str) -> QThread:
    """Move ``worker`` into a new running QThread named ``name``; the worker is deleted
    when the thread ends. Connect requests to its slots as queued signals."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.finished.connect(worker.deleteLater)
    thread.start()
    return thread


def stop_worker_thread(thread: QThread, worker: QObject, timeout_ms: int) -> bool:
    """Quit ``thread`` (its worker already told to cancel); True when it ended within
    ``timeout_ms``, else it is kept, with its worker, until it ends by itself."""
    thread.quit()
    if thread.wait(timeout_ms):
        return True
    if not any(kept is thread for kept, _ in _STILL_RUNNING):
        _STILL_RUNNING.append((thread, worker))
    return False


def wait_for_stopped_workers(timeout_ms: int = 60_000) -> bool:
    """Before the process exits: wait for worker threads that outlived their window."""
    deadline = time.monotonic() + timeout_ms / 1000
    for thread, _worker in list(_STILL_RUNNING):
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        if not thread.wait(remaining):
            return False
    _STILL_RUNNING.clear()
    return True
