"""``LockstepPair``: two models decoding one input together, Step / Back / Run driving both.

Each side is an ordinary step-wise decode opened through ``InferenceModel.open_session``
(its own ``OpenSession``, ``DecodeSession`` and view record), so each side steps exactly
as it would alone: the pair adds only the bookkeeping of which side moved. A pair step
takes one step on every side that is not finished (the shorter output simply stops);
``back()`` undoes the last pair step on exactly the sides it moved, so Back after Step
gives both sides back bit for bit. The pair is a ``Stepper`` (engine/decoding/step_loop.py),
so ``run()`` goes through the one step loop with its cancel check.
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
        self._moved: list[tuple[bool, bool]] = []  # per pair step: which side stepped

    @property
    def done(self) -> bool:
        """Both sides finished."""
        return all(side.done for side in self.sides)

    @property
    def step_index(self) -> int:
        """Pair steps taken = the longer side's step count."""
        return len(self._moved)

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
        self._moved.append(moved)
        return results[0], results[1]

    def back(self) -> PairStep | None:
        """Undo the last pair step on the sides it moved; returns what it undid, or None
        when there is nothing to undo."""
        if not self._moved:
            return None
        moved = self._moved.pop()
        first, second = (
            side.back() if go else None for side, go in zip(self.sides, moved, strict=True)
        )
        return first, second

    def run(self, until: int | None = None, cancel: CancelFlag | None = None) -> list[PairStep]:
        """Pair steps until both are done (or ``until`` pair steps exist), through the step
        loop: ``cancel`` is checked before each (DecodeCancelled; steps taken stay)."""
        return StepLoop(self, until=until, cancel=cancel).run()

    def reset(self) -> None:
        """Both sides back to the start."""
        for side in self.sides:
            side.reset()
        self._moved.clear()

    def snapshots(self) -> tuple[SessionSnapshot, SessionSnapshot]:
        """Each side's view record now (engine/snapshot.py)."""
        first, second = self.sides
        return first.snapshot(), second.snapshot()
