"""Decoding a batch: any step model, any strategy from the registry.

``model`` is anything with the step-model protocol (engine/decoding/step_model.py:
``init_state``, ``step``, ``reorder``); ``memory`` its encoded input with one row per
input (``mask``, ``index_select``, ``repeat_interleave``).

- ``DecodeStepper`` takes one step of the model under a strategy and can save and
  restore itself (``DecodeSession`` uses that to step back and force tokens); a step
  may impose a token or an ``AttentionEdit`` (the what-if: the model's attention
  override hook);
- ``decode_steps`` runs it through the one step loop (engine/decoding/step_loop.py),
  yielding one ``StepResult`` per input and step and returning the ``DecodeResult``s;
- ``decode`` runs it to the end.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnscope.engine.decoding.base import DecodeStrategy, SavedSearch
from attnscope.engine.decoding.beam import BeamSearch
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.constraints import StepRules
from attnscope.engine.decoding.greedy import GreedySearch
from attnscope.engine.decoding.results import DecodeResult, StepResult
from attnscope.engine.decoding.sampling import RandomSampling
from attnscope.engine.decoding.step_loop import CancelFlag, StepLoop
from attnscope.engine.decoding.step_model import StepMemory, StepModel
from attnscope.engine.interventions import AttentionEdit

logger = logging.getLogger(__name__)

STRATEGIES: dict[str, type[DecodeStrategy]] = {
    "greedy": GreedySearch,
    "beam": BeamSearch,
    "sampling": RandomSampling,
}


def build_strategy(config: DecodeConfig, **kwargs: Any) -> DecodeStrategy:
    """The registered strategy for ``config.strategy``; unknown names raise ValueError."""
    try:
        strategy_class = STRATEGIES[config.strategy]
    except KeyError:
        raise ValueError(
            f"unknown decoding strategy {config.strategy!r}; valid: {', '.join(STRATEGIES)}"
        ) from None
    return strategy_class(config, **kwargs)


@dataclass(frozen=True)
class SavedStepper:
    """A DecodeStepper at one step: the strategy's bookkeeping plus the model's state."""

    search: SavedSearch
    state: Any
    memory: StepMemory


class DecodeStepper:
    """Runs ``model.step`` under a strategy, one step at a time.

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
        if getattr(model, "training", False):
            logger.warning("decoding a model in training mode; call model.eval() first")
        self.model = model
        self.config = config
        self.vocab_size: int | None = None  # known after the first step
        source_lengths = memory.mask.sum(dim=1).cpu().numpy().astype(np.int64)
        max_lengths = np.array([config.max_length_for(int(n)) for n in source_lengths])
        self.strategy = build_strategy(
            config,
            source_lengths=source_lengths,
            max_lengths=max_lengths,
            rules=StepRules(
                min_length=max(config.min_length, ban_eos_until or 0),
                ban_unk=config.ban_unk,
                block_ngram_repeat=config.block_ngram_repeat,
            ),
            device=memory.mask.device,
        )
        with torch.inference_mode():
            k = self.strategy.rows_per_input
            self._memory = memory.repeat_interleave(k) if k > 1 else memory
            self._state = model.init_state(self._memory)
            # a model that ends an output at its length limit itself (engine/hf/step_model.py)
            limit_lengths = getattr(model, "limit_lengths", None)
            if limit_lengths is not None:
                limits = torch.from_numpy(np.repeat(max_lengths, k).astype(np.int64))  # (N,)
                self._state = limit_lengths(self._state, limits)

    @property
    def done(self) -> bool:
        return self.strategy.done

    @property
    def step_index(self) -> int:
        """Index of the next token to generate."""
        return self.strategy.step_index

    def step(self, forced: int | AttentionEdit | None = None) -> list[StepResult]:
        """One model step for every unfinished input; ``forced`` imposes a token, or an
        AttentionEdit the attention every row uses at this step (the model then chooses).

        A refused edit (no attention, a model without the override hook, weights that do
        not fit the source) raises ValueError before anything changes.
        """
        if self.done:
            raise ValueError("the decode is finished; there is no next step")
        edit = forced if isinstance(forced, AttentionEdit) else None
        token = None if edit is not None else forced
        with torch.inference_mode():
            tokens = self.strategy.current_tokens
            log_probs, state, attn = self._model_step(tokens, edit)
            self.vocab_size = log_probs.size(1)
            results = self.strategy.advance(log_probs, attn, forced=token)
            if not self.strategy.done:
                if self.strategy.select_indices is not None:
                    state = self.model.reorder(state, self.strategy.select_indices)
                if self.strategy.memory_indices is not None:
                    self._memory = self._memory.index_select(self.strategy.memory_indices)
            self._state = state
        return results

    def _model_step(self, tokens, edit: AttentionEdit | None):
        """``model.step`` on the current rows, with ``edit``'s weights (heads, S) given to
        every row as the attention override."""
        if edit is None:
            return self.model.step(tokens, self._state, self._memory)
        if not getattr(self.model, "accepts_attention_override", False):
            raise ValueError(f"{type(self.model).__name__} does not take attention edits")
        if self.model.num_heads == 0:
            raise ValueError("this model has no attention; there are no attention weights to edit")
        rows = self._memory.mask.size(0)
        weights = torch.from_numpy(np.array(edit.weights)).to(self._memory.mask.device)
        override = weights.unsqueeze(0).expand(rows, *weights.shape)  # (N, heads, S)
        return self.model.step(tokens, self._state, self._memory, attention_override=override)

    def save(self) -> SavedStepper:
        """A save point to come back to; cheap: the states are immutable and only referenced."""
        return SavedStepper(self.strategy.save(), self._state, self._memory)

    def restore(self, saved: SavedStepper) -> None:
        self.strategy.restore(saved.search)
        self._state = saved.state
        self._memory = saved.memory

    def results(self) -> list[DecodeResult]:
        return self.strategy.results()


def decode_steps(
    model: StepModel,
    memory: StepMemory,
    config: DecodeConfig,
    *,
    forced_prefix: Sequence[int] | None = None,
    ban_eos_until: int | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[StepResult, None, list[DecodeResult]]:
    """Yield a StepResult per input and step; return one DecodeResult per input.

    forced_prefix: tokens imposed at steps 0, 1, ... (for every input)
    cancel: checked before every step; when set, DecodeCancelled is raised.
    """
    stepper = DecodeStepper(model, memory, config, ban_eos_until=ban_eos_until)
    for results in StepLoop(stepper, plan=tuple(forced_prefix or ()), cancel=cancel):
        yield from results
    return stepper.results()


def decode(
    model: StepModel, memory: StepMemory, config: DecodeConfig, **options: Any
) -> list[DecodeResult]:
    """Decode a whole batch: one DecodeResult per row of ``memory`` (``options``: the
    keyword arguments of ``decode_steps``)."""
    steps = decode_steps(model, memory, config, **options)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
