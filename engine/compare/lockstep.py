"""``LockstepPair``: two models decoding one input together, Step / Back / Run driving both.

Each side is an ordinary step-wise decode opened through ``InferenceModel.open_session``
(its own ``OpenSession``, ``DecodeSession`` and view record), so each side steps exactly
as it would alone; the pair keeps no state of its own. A pair step takes one step on
every side that is not finished (the shorter output simply stops); ``back()`` undoes
the last pair step on exactly the sides it moved, so Back after Step gives both sides
back bit for bit. ``force(side, token)`` forces a token on one side (the two sides have
their own vocabularies). The pair is a ``Stepper`` (engine/decoding/step_loop.py), so
``run()`` goes through the one step loop with its cancel check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attnscope.engine.compare.compatibility import compatible
from attnscope.engine.decoding.results import StepResult
from attnscope.engine.decoding.step_loop import CancelFlag, StepLoop

if TYPE_CHECKING:
    from attnscope.engine.decoding.config import DecodeConfig
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.inference_results import SessionSnapshot
    from attnscope.engine.snapshot import OpenSession

# What one pair step did on each side: that side's StepResult, None where it was finished.
PairStep = tuple[StepResult | None, StepResult | None]


class LockstepPair:
    """Two models, one source, decoded side by side.

    model_a, model_b: InferenceModels of one task on one device (``compatible``)
    source:           the text (translation) or picture (captioning) both decode
    config_a, config_b: each side's decoding settings (they may differ)
    """

    def __init__(
        self,
        model_a: InferenceModel,
        model_b: InferenceModel,
        source: Any,
        config_a: DecodeConfig,
        config_b: DecodeConfig,
    ) -> None:
        compatible(model_a, model_b)
        self.models = (model_a, model_b)
        self.source = source
        # each side checks and encodes the source itself (InputTextError when it refuses)
        self.sides: tuple[OpenSession, OpenSession] = (
            model_a.open_session(source, config_a),
            model_b.open_session(source, config_b),
        )

    @property
    def done(self) -> bool:
        """Both sides finished."""
        return all(side.done for side in self.sides)

    @property
    def step_index(self) -> int:
        """Pair steps taken = the longer side's step count. A side stops only when it is
        finished, so pair step k moved exactly the sides with more than k steps: the
        pair needs no record of its own (and a token forced on one side keeps it exact)."""
        return max(side.step_index for side in self.sides)

    def step(self, forced: None = None) -> PairStep:
        """One step on each unfinished side; ValueError when both are finished.

        ``forced`` exists for the step loop's protocol only: the two sides have their
        own vocabularies, so a token is forced on one side's session, not on the pair.
        """
        if forced is not None:
            raise ValueError("force a token on one side's session; the pair steps both")
        if self.done:
            raise ValueError("both decodes are finished; step back or reset")
        moved = tuple(not side.done for side in self.sides)
        results: list[StepResult | None] = []
        for side, go in zip(self.sides, moved, strict=True):
            try:
                results.append(side.step() if go else None)
            except ValueError:
                if results and results[0] is not None:  # the first side stepped: undo it
                    self.sides[0].back()
                raise
        return results[0], results[1]

    def back(self) -> PairStep | None:
        """Undo the last pair step on the sides it moved (those with the most steps);
        returns what it undid, or None when there is nothing to undo."""
        last = self.step_index
        if last == 0:
            return None
        first, second = (side.back() if side.step_index == last else None for side in self.sides)
        return first, second

    def force(self, side: int, token_id: int, at_step: int | None = None) -> StepResult:
        """Force ``token_id`` on side ``side`` (0: A, 1: B) at ``at_step`` (default: its
        latest step), as ``OpenSession.force``; the other side is left as it is."""
        return self.sides[side].force(token_id, at_step=at_step)

    def run(self, until: int | None = None, cancel: CancelFlag | None = None) -> list[PairStep]:
        """Pair steps until both are done (or ``until`` pair steps exist), through the step
        loop: ``cancel`` is checked before each (DecodeCancelled; steps taken stay)."""
        return StepLoop(self, until=until, cancel=cancel).run()

    def reset(self) -> None:
        """Both sides back to the start."""
        for side in self.sides:
            side.reset()

    def snapshots(self) -> tuple[SessionSnapshot, SessionSnapshot]:
        """Each side's view record now (engine/snapshot.py)."""
        first, second = self.sides
        return first.snapshot(), second.snapshot()
