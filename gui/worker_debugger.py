"""The model worker's debugger requests: breakpoints, the attention what-if, raw scores.

``DebuggerRequests`` is ModelWorker's (gui/worker.py) base: its slots run in the
worker's thread on the worker's open session, through ModelWorker's helpers
(``_session``, ``_cancel``, ``_require_session``, ``_stop_running``, ``_emit``) and
signals (``busy``, ``failed``, ``cancelled``).
Step and Run ask ``_stop_hook`` after each step and report a hit with ``_report_hit``.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot

from attnscope.gui.worker_errors import guarded_slot

log = logging.getLogger(__name__)

guarded = guarded_slot(log)


class DebuggerRequests(QObject):
    """Breakpoints asked after each Step or Run, attention edits and their undo."""

    breakpointHit = Signal(object)  # BreakpointHit, after the snapshot of the step it stopped
    whatIfBase = Signal(object)  # SessionSnapshot of the decode an attention edit changes
    scoresReady = Signal(object)  # (token ids, (T, heads, S) float32 raw attention scores)

    def __init__(self) -> None:
        super().__init__()
        self._breakpoints = None  # engine Breakpoints asked after each Run or Step, or None
        self._before_edit = None  # (OpenSession, SavedSession) before the last attention edit

    @Slot(object)
    @guarded
    def set_breakpoints(self, conditions: object) -> None:
        """The conditions (their engine dicts) that stop a Run; () clears them."""
        from attnscope.engine.debugger.breakpoints import Breakpoints

        self._breakpoints = None  # a refused set leaves none rather than the old ones
        built = Breakpoints.from_dicts(conditions)
        self._breakpoints = built if built.conditions else None

    @Slot(int, object)
    @guarded
    def edit_attention(self, at_step: int, weights: object) -> None:
        """The what-if: finish the original decode (its snapshot goes out as whatIfBase),
        then retake step ``at_step`` with attention ``weights`` (heads, S); Run continues."""
        self._stop_running()
        session = self._require_session()
        self._cancel.clear()
        session.session.steps(cancel=self._cancel).run()
        saved = session.session.save()
        session.session.edit_attention(at_step, weights)  # a refusal changes nothing
        self._before_edit = (session, saved)
        self._emit(force=True)  # the first new token goes out first
        edited = session.session.save()
        session.session.restore(saved)  # the original's view record, then back (cheap)
        original = session.snapshot()
        session.session.restore(edited)
        self.whatIfBase.emit(original)

    @Slot(int)
    @guarded
    def undo_edit(self, at_step: int) -> None:
        """Undo the attention edit at ``at_step``: the original decode exactly as it was
        (or, when that is gone, the steps before ``at_step``, for Run to retake)."""
        self._stop_running()
        session = self._require_session()
        before, self._before_edit = self._before_edit, None
        if before is not None and before[0] is session:
            session.session.restore(before[1])
        else:
            while session.step_index > at_step and session.back() is not None:
                pass
        self._emit(force=True)

    @Slot()
    @guarded
    def attention_scores(self) -> None:
        """The raw pre-softmax scores of the shown hypothesis (answers scoresReady)."""
        session = self._require_session()
        tokens = tuple(int(t) for t in session.session.tokens)
        self.scoresReady.emit((tokens, session.attention_scores()))

    def _stop_hook(self):
        """The breakpoints' hook on the open session, None without breakpoints."""
        if self._breakpoints is None or self._session is None:
            return None
        return self._breakpoints.stop_hook(self._session)

    def _hit(self, hook, step_result) -> str | None:
        """The hook's reason to stop after ``step_result``, None without one."""
        return hook(step_result) if hook is not None else None

    def _report_hit(self, reason: str | None) -> None:
        """Emit the BreakpointHit whose message is ``reason`` (the newest such)."""
        if reason is None or self._breakpoints is None:
            return
        hits = self._breakpoints.hits
        hit = next((h for h in reversed(hits) if h.message == reason), None)
        if hit is not None:
            self.breakpointHit.emit(hit)
