"""``DecodeSession``: the step-wise decode of one input that the GUI drives.

It wraps the same ``DecodeStepper`` as ``decode()``, so stepping to the end
gives exactly the full decode's tokens and attention. Before every step the
stepper is saved (a few references: decoder states and strategy bookkeeping
are immutable), which makes ``back()`` and ``force()`` cheap and exact.
Running several steps goes through the one step loop (``StepLoop``), like
every other consumer. With beam search one step expands every hypothesis of the beam; the
session shows the current best one and the search tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.driver import DecodeStepper, SavedStepper
from attnscope.engine.decoding.results import DecodeResult, Hypothesis, SearchTree, StepResult
from attnscope.engine.decoding.step_loop import CancelFlag, StepLoop, StopHook
from attnscope.engine.decoding.step_model import StepMemory, StepModel


class DecodeSession:
    """Decode one input token by token, with undo and forced choices.

    model:  anything with the step-model protocol, in eval mode
    memory: the input's encoded memory (batch 1)
    config: how to decode (greedy, beam or sampling)
    ban_eos_until: eos is banned before this step (on top of ``config.min_length``)
    """

    def __init__(
        self,
        model: StepModel,
        memory: StepMemory,
        config: DecodeConfig,
        *,
        ban_eos_until: int | None = None,
    ) -> None:
        if memory.mask.size(0) != 1:
            raise ValueError(
                f"a DecodeSession decodes one input, got a batch of {memory.mask.size(0)}"
            )
        self.model = model
        self.memory = memory
        self.config = config
        self.ban_eos_until = ban_eos_until
        self.source_length = int(memory.mask.sum())
        self.reset()

    def reset(self) -> None:
        """Back to the start: no tokens, a fresh strategy (sampling restarts from its seed)."""
        self._loop = DecodeStepper(
            self.model, self.memory, self.config, ban_eos_until=self.ban_eos_until
        )
        self._undo: list[SavedStepper] = []  # _undo[i]: the stepper before step i
        self._history: list[StepResult] = []

    # -- stepping -------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._loop.done

    @property
    def history(self) -> list[StepResult]:
        """The StepResults so far, one per step (a copy)."""
        return list(self._history)

    @property
    def step_index(self) -> int:
        """Number of steps taken = index of the next step."""
        return len(self._history)

    def step(self, forced: int | None = None) -> StepResult:
        """Generate one token (beam: expand every hypothesis once); ``forced`` imposes it.

        A refused token (outside the vocabulary, or impossible here) raises ValueError
        and changes nothing.
        """
        if self.done:
            raise ValueError("the decode is finished; step back, force a token or reset")
        vocab = self._loop.vocab_size
        if forced is not None and (forced < 0 or (vocab is not None and forced >= vocab)):
            raise ValueError(f"forced token id {forced} outside the vocabulary of {vocab}")
        saved = self._loop.save()
        results = self._loop.step(forced)
        if not results:  # beam: every extension had probability 0
            self._loop.restore(saved)
            raise ValueError(f"token {forced} has probability 0 here; it cannot be forced")
        self._undo.append(saved)
        self._history.append(results[0])
        return results[0]

    def steps(
        self,
        until: int | None = None,
        cancel: CancelFlag | None = None,
        *,
        plan: Sequence[int | None] = (),
        stop: StopHook | None = None,
    ) -> StepLoop[StepResult]:
        """The step loop over this session: iterate it (or ``.run()``) to take the steps.

        until: stop once this many steps exist; plan: tokens imposed at steps 0, 1, …
        (None: the model's choice); cancel: checked before every step, raises
        DecodeCancelled (the steps already taken stay); stop: the breakpoint hook.
        """
        return StepLoop(self, until=until, plan=plan, cancel=cancel, stop=stop)

    def run_iter(
        self, until: int | None = None, cancel: CancelFlag | None = None
    ) -> Iterator[StepResult]:
        """Step until done (or until ``until`` steps were taken), yielding each step."""
        return iter(self.steps(until, cancel))

    def run(self, until: int | None = None, cancel: CancelFlag | None = None) -> list[StepResult]:
        """Every step until done (or ``until``); returns the new steps."""
        return self.steps(until, cancel).run()

    def back(self) -> StepResult | None:
        """Undo the last step exactly; returns it, or None when there is nothing to undo."""
        if not self._undo:
            return None
        self._loop.restore(self._undo.pop())
        return self._history.pop()

    def force(self, token_id: int, at_step: int | None = None) -> StepResult:
        """Rewind to ``at_step``, take ``token_id`` there instead, and return that step.

        ``at_step`` defaults to the latest step (the first one before any step);
        it may also be the next step. Later steps are dropped; ``step()`` or
        ``run()`` continue from the forced token. With beam search every
        hypothesis of the beam takes the token.
        """
        if at_step is None:
            at_step = max(self.step_index - 1, 0)
        if not 0 <= at_step <= self.step_index:
            raise ValueError(f"cannot force step {at_step}; steps 0..{self.step_index} exist")
        if at_step == self.step_index and self.done:
            raise ValueError("the decode is finished; force an earlier step")
        now = (self._loop.save(), list(self._undo), list(self._history))
        if at_step < self.step_index:
            self._loop.restore(self._undo[at_step])
            del self._undo[at_step:]
            del self._history[at_step:]
        try:
            return self.step(forced=token_id)
        except ValueError:
            saved, self._undo, self._history = now  # a refused force changes nothing
            self._loop.restore(saved)
            raise

    # -- what the views show -----------------------------------------------------
    def result(self) -> DecodeResult:
        """The decode so far: n-best (mid-decode: best live hypotheses), steps and tree."""
        return self._loop.results()[0]

    def current(self) -> Hypothesis:
        """The best hypothesis now (with beam, the best of the beam and the finished)."""
        return self.result().best

    @property
    def tokens(self) -> tuple[int, ...]:
        """Token ids of the current best hypothesis."""
        return self.current().tokens

    @property
    def tree(self) -> SearchTree:
        return self.result().tree

    def attention_matrix(self) -> np.ndarray:
        """(T, heads, S) float32 attention of the current best hypothesis (heads = 0 without)."""
        hypothesis = self.current()
        if hypothesis.attention is not None:
            return hypothesis.attention
        return np.zeros((len(hypothesis.tokens), 0, self.source_length), dtype=np.float32)
