"""The one decode loop: any model with the shared step, any strategy from the registry.

``model`` is anything with ``init_state(memory)`` and
``step(prev_tokens (N,), state, memory) -> (log_probs (N, V), state, attn (N, heads, S) | None)``
(see docs/CONTRACTS.md); ``memory`` is an ``EncoderMemory`` (or anything with
``mask``, ``index_select`` and ``repeat_interleave``) with one row per input.

- ``decode_steps`` is a generator yielding one ``StepResult`` per input and
  step and returning the list of ``DecodeResult``; progress, live views and
  cancelling hang off it.
- ``decode`` runs it to the end.
- ``DecodeLoop`` is the loop as an object that can snapshot and restore
  itself; ``DecodeSession`` uses it to step back and force tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from attnscope.engine.decoding.base import DecodeStrategy, StrategySnapshot
from attnscope.engine.decoding.beam import BeamSearch
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.constraints import StepRules
from attnscope.engine.decoding.greedy import GreedySearch
from attnscope.engine.decoding.results import DecodeResult, StepResult
from attnscope.engine.decoding.sampling import RandomSampling
from attnscope.engine.errors import DecodeCancelled

logger = logging.getLogger(__name__)

STRATEGIES: dict[str, type[DecodeStrategy]] = {
    "greedy": GreedySearch,
    "beam": BeamSearch,
    "sampling": RandomSampling,
}

# A cancel flag: a threading.Event (anything with is_set()) or a no-argument callable.
CancelFlag = Callable[[], bool] | Any


def build_strategy(config: DecodeConfig, **kwargs: Any) -> DecodeStrategy:
    """The registered strategy for ``config.strategy``; unknown names raise ValueError."""
    try:
        strategy_class = STRATEGIES[config.strategy]
    except KeyError:
        raise ValueError(
            f"unknown decoding strategy {config.strategy!r}; valid: {', '.join(STRATEGIES)}"
        ) from None
    return strategy_class(config, **kwargs)


def is_cancelled(cancel: CancelFlag | None) -> bool:
    """True when ``cancel`` (an Event-like object or a callable) says stop."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def raise_if_cancelled(cancel: CancelFlag | None, step: int) -> None:
    if is_cancelled(cancel):
        raise DecodeCancelled(f"decode cancelled before step {step}")


@dataclass(frozen=True)
class LoopSnapshot:
    """A DecodeLoop at one step: the strategy's bookkeeping plus the model's state."""

    strategy: StrategySnapshot
    state: Any
    memory: Any


class DecodeLoop:
    """Runs ``model.step`` under a strategy, one step at a time.

    forced_prefix: tokens imposed at steps 0, 1, ... (for every input)
    ban_eos_until: eos is banned before this step (on top of ``config.min_length``)
    """

    def __init__(
        self,
        model: Any,
        memory: Any,
        config: DecodeConfig,
        *,
        forced_prefix: Sequence[int] | None = None,
        ban_eos_until: int | None = None,
    ) -> None:
        if getattr(model, "training", False):
            logger.warning("decoding a model in training mode; call model.eval() first")
        self.model = model
        self.config = config
        self.forced_prefix = tuple(int(t) for t in (forced_prefix or ()))
        self.vocab_size: int | None = None  # known after the first step
        source_lengths = memory.mask.sum(dim=1).cpu().numpy().astype(np.int64)
        self.strategy = build_strategy(
            config,
            source_lengths=source_lengths,
            max_lengths=np.array([config.max_length_for(int(n)) for n in source_lengths]),
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

    @property
    def done(self) -> bool:
        return self.strategy.done

    @property
    def step_index(self) -> int:
        """Index of the next token to generate."""
        return self.strategy.step_index

    def step(self, forced: int | None = None) -> list[StepResult]:
        """One model step for every unfinished input; ``forced`` imposes a token."""
        if self.done:
            raise ValueError("the decode is finished; there is no next step")
        step = self.strategy.step_index
        if forced is None and step < len(self.forced_prefix):
            forced = self.forced_prefix[step]
        with torch.inference_mode():
            tokens = self.strategy.current_tokens
            log_probs, state, attn = self.model.step(tokens, self._state, self._memory)
            self.vocab_size = log_probs.size(1)
            results = self.strategy.advance(log_probs, attn, forced=forced)
            if not self.strategy.done:
                if self.strategy.select_indices is not None:
                    state = state.index_select(self.strategy.select_indices)
                if self.strategy.memory_indices is not None:
                    self._memory = self._memory.index_select(self.strategy.memory_indices)
            self._state = state
        return results

    def snapshot(self) -> LoopSnapshot:
        """Cheap: the state objects are immutable and only referenced."""
        return LoopSnapshot(self.strategy.snapshot(), self._state, self._memory)

    def restore(self, snapshot: LoopSnapshot) -> None:
        self.strategy.restore(snapshot.strategy)
        self._state = snapshot.state
        self._memory = snapshot.memory

    def results(self) -> list[DecodeResult]:
        return self.strategy.results()


def decode_steps(
    model: Any,
    memory: Any,
    config: DecodeConfig,
    *,
    forced_prefix: Sequence[int] | None = None,
    ban_eos_until: int | None = None,
    cancel: CancelFlag | None = None,
) -> Generator[StepResult, None, list[DecodeResult]]:
    """Yield a StepResult per input and step; return one DecodeResult per input.

    ``cancel`` is checked before every step; when set, DecodeCancelled is raised.
    """
    loop = DecodeLoop(
        model, memory, config, forced_prefix=forced_prefix, ban_eos_until=ban_eos_until
    )
    while not loop.done:
        raise_if_cancelled(cancel, loop.step_index)
        yield from loop.step()
    return loop.results()


def decode(
    model: Any,
    memory: Any,
    config: DecodeConfig,
    *,
    forced_prefix: Sequence[int] | None = None,
    ban_eos_until: int | None = None,
    cancel: CancelFlag | None = None,
) -> list[DecodeResult]:
    """Decode a whole batch: one DecodeResult per row of ``memory``."""
    steps = decode_steps(
        model,
        memory,
        config,
        forced_prefix=forced_prefix,
        ban_eos_until=ban_eos_until,
        cancel=cancel,
    )
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value
