"""``ScriptedModel``: a stand-in with the model step interface whose outputs are scripted.

Its next-token distribution is whatever a Python function returns for
(input index, tokens generated so far), and its attention is a fixed,
easily checked pattern. Search strategies, the session, benchmarks and GUI
tests use it to run without a trained network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.decoding.config import BOS_ID, EOS_ID
from attnscope.models.state import EncoderMemory

NextProbs = Callable[[int, tuple[int, ...]], Sequence[float]]


@dataclass(frozen=True)
class ScriptedState:
    """history: (N, t) long, tokens fed so far (bos first)."""

    history: Tensor

    def index_select(self, index: Tensor) -> ScriptedState:
        return ScriptedState(self.history.index_select(0, index))


def scripted_memory(source_lengths: Sequence[int]) -> EncoderMemory:
    """EncoderMemory for B inputs; values[b, :, 0] = b tells the model which input a row is."""
    batch, width = len(source_lengths), max(source_lengths)
    mask = torch.arange(width).unsqueeze(0) < torch.tensor(source_lengths).unsqueeze(1)  # (B, S)
    values = torch.arange(batch, dtype=torch.float32).view(batch, 1, 1).expand(batch, width, 1)
    return EncoderMemory(values=values.contiguous(), mask=mask, final=values[:, 0, :].clone())


def table_probs(
    table: Mapping[tuple[int, ...], Sequence[float]], default: Sequence[float]
) -> NextProbs:
    """NextProbs from {prefix: probabilities}; prefixes not listed get ``default``."""
    return lambda _input, prefix: table.get(prefix, default)


class ScriptedModel:
    """Fake encoder-decoder: ``step`` returns log(next_probs(input, prefix)) for each row.

    Attention of a row at step t over its S real positions peaks at position
    (t + head) mod S; padding gets exactly zero. ``num_heads = 0`` means no attention.
    The batch size of every ``step`` call is appended to ``batch_sizes``.
    """

    training = False

    def __init__(self, vocab_size: int, next_probs: NextProbs, *, num_heads: int = 1) -> None:
        self.vocab_size = vocab_size
        self.next_probs = next_probs
        self.num_heads = num_heads
        self.batch_sizes: list[int] = []

    def init_state(self, memory: EncoderMemory) -> ScriptedState:
        return ScriptedState(torch.zeros(memory.mask.size(0), 0, dtype=torch.long))

    def step(
        self, prev_tokens: Tensor, state: ScriptedState, memory: EncoderMemory
    ) -> tuple[Tensor, ScriptedState, Tensor | None]:
        """prev_tokens (N,) -> log_probs (N, V), new state, attn (N, heads, S) | None."""
        self.batch_sizes.append(prev_tokens.size(0))
        history = torch.cat([state.history, prev_tokens.unsqueeze(1)], dim=1)  # (N, t + 1)
        inputs = memory.values[:, 0, 0].long().tolist()
        probs = np.stack(
            [
                self._distribution(b, tuple(int(t) for t in row[1:]))
                for b, row in zip(inputs, history.tolist(), strict=True)
            ]
        )
        with np.errstate(divide="ignore"):  # a scripted zero becomes -inf
            log_probs = torch.from_numpy(np.log(probs)).float()
        return log_probs, ScriptedState(history), self._attention(history.size(1) - 1, memory)

    def reorder(self, state: ScriptedState, index: Tensor) -> ScriptedState:
        return state.index_select(index)

    def _distribution(self, b: int, prefix: tuple[int, ...]) -> np.ndarray:
        probs = np.asarray(self.next_probs(b, prefix), dtype=np.float64)
        if probs.shape != (self.vocab_size,) or np.any(probs < 0) or probs.sum() <= 0:
            raise ValueError(f"scripted probabilities for {prefix} are not a distribution")
        return probs / probs.sum()

    def _attention(self, step: int, memory: EncoderMemory) -> Tensor | None:
        if self.num_heads == 0:
            return None
        lengths = memory.mask.sum(dim=1)  # (N,)
        heads = torch.arange(self.num_heads).unsqueeze(0)  # (1, heads)
        peak = (step + heads) % lengths.unsqueeze(1)  # (N, heads)
        positions = torch.arange(memory.mask.size(1)).view(1, 1, -1)  # (1, 1, S)
        scores = -((positions - peak.unsqueeze(2)).float() ** 2)  # (N, heads, S)
        scores = scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf"))
        return scores.softmax(dim=2)


def peaked(vocab_size: int, weights: Mapping[int, float], floor: float = 0.01) -> list[float]:
    """Probabilities: ``weights`` for the listed ids, ``floor`` elsewhere, 0 for bos.

    Not normalised; the model normalises.
    """
    probs = [floor] * vocab_size
    for token, weight in weights.items():
        probs[token] = weight
    probs[BOS_ID] = 0.0
    return probs


def eos_heavy(vocab_size: int) -> list[float]:
    """A distribution that mostly ends the sentence (a handy ``default``)."""
    return peaked(vocab_size, {EOS_ID: 0.9})
