"""``StepLoop``: the one place where a decode takes its next step, and can be stopped.

Everything that advances a decode more than one step goes through it: ``decode()``
and ``decode_steps()`` (the CLI's batches), ``DecodeSession.run`` and the GUI's Run
(one step per event, so Pause gets through), the replay of a saved decode, and the
reference check (which forces a reference token by token). Three things hang off it:

- the plan: tokens imposed at given steps (a forced prefix, a replayed decode's
  forced choices, a reference), or an ``AttentionEdit`` (engine/interventions.py) whose
  weights the step attends with (a replayed what-if), None where the model chooses;
- the cancel flag, checked before every step (one check, ``raise_if_cancelled``);
- the stop hook, asked after every step; when it names a reason the loop stops
  there and keeps that reason in ``stopped`` (breakpoints plug in here).

The loop drives anything that is a ``Stepper``: ``DecodeStepper`` (a batch; a step
returns one StepResult per unfinished input) and ``DecodeSession`` (one input with
undo; a step returns its StepResult).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from attnscope.engine.errors import DecodeCancelled

if TYPE_CHECKING:
    from attnscope.engine.interventions import AttentionEdit

StepOut = TypeVar("StepOut", covariant=True)
Out = TypeVar("Out")


class CancelEvent(Protocol):
    """A threading.Event, or anything else with ``is_set()``."""

    def is_set(self) -> bool: ...


# A cancel flag: an Event-like object or a no-argument callable; None never cancels.
CancelFlag = CancelEvent | Callable[[], bool]


def is_cancelled(cancel: CancelFlag | None) -> bool:
    """True when ``cancel`` says stop: the one cancel check of every decode."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def raise_if_cancelled(cancel: CancelFlag | None, step: int) -> None:
    """Raise DecodeCancelled when ``cancel`` is set (``step``: the step not taken)."""
    if is_cancelled(cancel):
        raise DecodeCancelled(f"decode cancelled before step {step}")


class Stepper(Protocol[StepOut]):
    """A decode that can take its next step (see DecodeStepper, DecodeSession)."""

    @property
    def done(self) -> bool: ...

    @property
    def step_index(self) -> int:
        """Index of the next step."""
        ...

    def step(self, forced: int | AttentionEdit | None = None) -> StepOut:
        """Take one step; ``forced`` imposes the token, or the attention (an AttentionEdit)."""
        ...


# Asked after each step with what the step returned: a reason to stop there, or None.
StopHook = Callable[[Out], str | None]


class StepLoop(Generic[Out]):
    """Take steps of ``stepper`` until it is done, yielding what each step returns.

    until:  stop once this many steps exist (None: until done)
    plan:   plan[i] is the token imposed at step i, or an AttentionEdit the step
            attends with, None where the model chooses; steps past the plan are the
            model's
    cancel: checked before every step; when set, DecodeCancelled is raised (the
            steps already taken stay)
    stop:   asked after every step; a returned reason stops the loop after that
            step and is kept in ``stopped``
    """

    def __init__(
        self,
        stepper: Stepper[Out],
        *,
        until: int | None = None,
        plan: Sequence[int | AttentionEdit | None] = (),
        cancel: CancelFlag | None = None,
        stop: StopHook[Out] | None = None,
    ) -> None:
        self.stepper = stepper
        self.until = until
        self.plan = tuple(plan)
        self.cancel = cancel
        self.stop = stop
        self.stopped: str | None = None  # the stop hook's reason, once it fired

    @property
    def finished(self) -> bool:
        """Nothing more to take: the decode is done or reached ``until``."""
        index = self.stepper.step_index
        return self.stepper.done or (self.until is not None and index >= self.until)

    def __iter__(self) -> Iterator[Out]:
        while self.stopped is None and not self.finished:
            yield self.take_step()

    def take_step(self) -> Out:
        """The next step (cancel check, plan, stop hook): the loop's one step."""
        index = self.stepper.step_index
        raise_if_cancelled(self.cancel, index)
        forced = self.plan[index] if index < len(self.plan) else None
        out = self.stepper.step(forced)
        if self.stop is not None:
            self.stopped = self.stop(out)
        return out

    def run(self) -> list[Out]:
        """Every step to the end (or until stopped); what each one returned."""
        return list(self)
