"""Breakpoints on a decode: conditions checked after each step, or over a finished output.

``Breakpoints(conditions)`` holds the conditions (engine/debugger/conditions.py,
re-exported here) and gives

- ``stop_hook(session)``: the step loop's ``stop`` hook (``StepLoop(stop=...)``,
  ``DecodeSession.steps(stop=...)``). After each step it checks every condition
  at that step of the session's best hypothesis (greedy and sampling: the one
  hypothesis; beam: the step's leader, followed back through its parents) and
  returns the first new hit's message, which stops the loop there. Every hit is
  kept in ``hits``. A hit is reported once: asking again about the same step
  (a Resume that looks at where it stopped) stays quiet, while a step taken
  anew after Back, Force or Reset is a new pass and may fire again; hits of
  steps that were undone leave ``hits``.
- ``scan(trace)``: every hit of a finished hypothesis, step by step, from its
  ``HypothesisTrace`` (``HypothesisTrace.from_arrays(tokens, token_log_probs,
  entropies, attention, source_length)``): what ``translate --flag`` reports.

A hit is a ``BreakpointHit(step, condition, message)``: the 0-based step, the
condition's name, and a sentence for the status bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from attnscope.engine.debugger.conditions import (
    CONDITIONS,
    BreakpointCondition,
    EntropyAbove,
    LowProbability,
    NoEos,
    OverCovered,
    RepeatedNgram,
    StuckAttention,
    TokenProduced,
    UncoveredAtEos,
    condition_from_dict,
)
from attnscope.engine.debugger.trace import HypothesisTrace, SessionTrace, TraceLabels
from attnscope.engine.decoding.results import StepResult
from attnscope.engine.session import DecodeSession

MAX_CONDITIONS = 64  # conditions of one Breakpoints (a session file holds at most as many)


@dataclass(frozen=True)
class BreakpointHit:
    """A condition that fired: at ``step`` (0-based), its ``condition`` name, a ``message``."""

    step: int
    condition: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "condition": self.condition, "message": self.message}


class Breakpoints:
    """The conditions a decode is checked against, and the hits found so far."""

    def __init__(self, conditions: Iterable[BreakpointCondition] = ()) -> None:
        conditions = tuple(conditions)
        for condition in conditions:
            if not isinstance(condition, BreakpointCondition):
                raise ValueError(f"not a breakpoint condition: {condition!r:.80}")
        if len(conditions) > MAX_CONDITIONS:
            raise ValueError(f"at most {MAX_CONDITIONS} breakpoints, got {len(conditions)}")
        self.conditions = conditions
        self.hits: list[BreakpointHit] = []
        self._hit_steps: list[StepResult] = []  # the StepResult each hit was found on

    @classmethod
    def from_dicts(cls, dicts: Iterable[Any]) -> Breakpoints:
        """Breakpoints of conditions in their ``to_dict`` form (a ValueError names the bad one)."""
        return cls(condition_from_dict(d) for d in dicts)

    def to_dicts(self) -> list[dict[str, Any]]:
        return [condition.to_dict() for condition in self.conditions]

    @property
    def need_entropy(self) -> bool:
        """A condition reads the step entropy (decode with ``DecodeConfig.step_entropy``)."""
        return any(isinstance(c, EntropyAbove) for c in self.conditions)

    def check(self, trace: HypothesisTrace, t: int) -> list[BreakpointHit]:
        """Every condition's hit at position t of ``trace``, in the conditions' order."""
        hits = []
        for condition in self.conditions:
            message = condition.check(trace, t)
            if message is not None:
                hits.append(BreakpointHit(t, condition.name, message))
        return hits

    # -- a finished hypothesis ---------------------------------------------------------
    def scan(self, trace: HypothesisTrace) -> list[BreakpointHit]:
        """Every hit of a finished hypothesis, by step (``hits`` is left alone).

        trace: the hypothesis's ``HypothesisTrace`` (``HypothesisTrace.from_arrays`` builds
        it from its tokens, log-probabilities, entropies and attention).
        """
        return [hit for t in range(len(trace)) for hit in self.check(trace, t)]

    # -- a decode in progress -------------------------------------------------------------
    def stop_hook(
        self, session: Any, *, source_eos: bool | None = None
    ) -> Callable[[StepResult], str | None]:
        """The ``stop`` hook for ``session``'s step loop (see the module docstring).

        session: a DecodeSession, or an OpenSession (engine/snapshot.py), whose labels
        name tokens and source words in the messages; source_eos: whether the source
        ends with </s> (default: text yes, a picture's grid no).
        """
        decode_session, labels, has_eos = _session_parts(session)
        follower = SessionTrace(
            decode_session.source_length,
            source_eos=has_eos if source_eos is None else source_eos,
            labels=labels,
        )

        last: list[StepResult] = []  # the step this hook saw last

        def stop(step_result: StepResult) -> str | None:
            history = decode_session.history
            if not _follows(last, step_result, history):
                self._forget_undone(history, step_result)
            last[:] = [step_result]
            if not self.conditions:
                return None
            trace = follower.update(step_result, history)
            new = [
                hit
                for hit in self.check(trace, step_result.step)
                if not self._reported(hit, step_result)
            ]
            self.hits.extend(new)
            self._hit_steps.extend([step_result] * len(new))
            return new[0].message if new else None

        return stop

    def clear(self) -> None:
        """Forget every hit."""
        self.hits.clear()
        self._hit_steps.clear()

    def _reported(self, hit: BreakpointHit, step_result: StepResult) -> bool:
        """``hit`` was already found on this very step (hits are kept in step order)."""
        for index in range(len(self.hits) - 1, -1, -1):
            old = self.hits[index]
            if old.step < hit.step:
                return False
            if old == hit and self._hit_steps[index] is step_result:
                return True
        return False

    def _forget_undone(self, history: Sequence[StepResult], step_result: StepResult) -> None:
        """Drop hits whose step is no longer the session's (undone, forced or reset)."""
        steps = list(history)
        if not steps or steps[-1] is not step_result:
            steps = steps[: step_result.step] + [step_result]
        kept = [
            (hit, source)
            for hit, source in zip(self.hits, self._hit_steps, strict=True)
            if hit.step < len(steps) and steps[hit.step] is source
        ]
        self.hits = [hit for hit, _ in kept]
        self._hit_steps = [source for _, source in kept]


def _follows(last: list[StepResult], step_result: StepResult, history: list[StepResult]) -> bool:
    """``step_result`` is the step right after the one the hook saw last, which is still
    the session's: nothing was undone in between (so no hit needs forgetting)."""
    if not last:
        return False
    previous = last[0]
    step = previous.step
    return (
        step_result.step == step + 1
        and step < len(history)
        and history[step] is previous
        and history[-1] is step_result
    )


def _session_parts(session: Any) -> tuple[DecodeSession, TraceLabels, bool]:
    """(the DecodeSession, labels for messages, whether the source ends with </s>)."""
    inner = getattr(session, "session", None)
    if isinstance(inner, DecodeSession):  # an OpenSession: text or picture, with labels
        grid = getattr(session, "grid", None)
        labels = TraceLabels(
            piece=session.labels.piece,
            source_pieces=tuple(session.source_pieces) or None,
            grid=grid,
        )
        return inner, labels, grid is None
    if isinstance(session, DecodeSession):
        return session, TraceLabels(), True
    raise ValueError(f"stop_hook needs a DecodeSession or an OpenSession, got {session!r:.80}")


__all__ = [
    "CONDITIONS",
    "BreakpointCondition",
    "BreakpointHit",
    "Breakpoints",
    "EntropyAbove",
    "HypothesisTrace",
    "LowProbability",
    "NoEos",
    "OverCovered",
    "RepeatedNgram",
    "StuckAttention",
    "TokenProduced",
    "TraceLabels",
    "UncoveredAtEos",
    "condition_from_dict",
]
