"""The attention family. Every module scores one decoder query against the memory.

Call signature shared by all: ``attn(query, memory, state, override=None) -> (context, weights)``

- query:    (B, Hq) decoder state (Bahdanau placement) or output (Luong placement)
- memory:   EncoderMemory with values (B, S, Hv), mask (B, S) and ``keys`` made by
  ``attn.precompute(values)`` once per source
- state:    the DecoderState (location-sensitive reads its previous alignment)
- override: (B, heads, S) replacement weights (the what-if edit), checked and
  normalised by ``check_override``; the context is then made from them
- context:  (B, attn.context_size)
- weights:  (B, heads, S); padding gets exactly 0 and each row sums to 1.

Each module splits into ``scores(query, memory, state)`` (B, heads, S), the raw
pre-softmax scores (additive energies, dot products, location scores; padding
not masked), and ``context(weights, memory)`` (B, C); ``forward`` is
``context(masked_softmax(scores))``, or ``context(override)`` when one is given.

This is the reference math, the one training runs. In eval the decoder runs the
additive kinds through models/fast_step.py instead (same results, less time).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnscope.models.config import AttentionConfig
from attnscope.models.state import DecoderState, EncoderMemory


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dim with padding forced to exactly 0.

    scores: (B, heads, S); mask: (B, S) bool, True at real positions.
    """
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    return torch.softmax(scores, dim=-1)


def check_override(override: Tensor, mask: Tensor, heads: int) -> Tensor:
    """Replacement attention weights, validated and normalised so each row sums to 1.

    override: (B, heads, S) finite, non-negative, exactly 0 on padding, each row with
    some mass; mask: (B, S) bool, True at real positions. -> (B, heads, S) float.
    Raises ValueError saying what was wrong.
    """
    expected = (mask.size(0), heads, mask.size(1))
    if not isinstance(override, Tensor) or tuple(override.shape) != expected:
        shape = tuple(override.shape) if isinstance(override, Tensor) else type(override).__name__
        raise ValueError(f"attention override has shape {shape}; this step needs {expected}")
    if not override.is_floating_point():
        raise ValueError(f"attention override must be floating point, got {override.dtype}")
    if not bool(torch.isfinite(override).all()):
        raise ValueError("attention override contains NaN or infinite weights")
    if bool((override < 0).any()):
        raise ValueError("attention override contains negative weights")
    if bool((override.masked_select(~mask.unsqueeze(1).expand_as(override)) != 0).any()):
        raise ValueError("attention override puts weight on padding; it must be exactly 0 there")
    totals = override.sum(dim=-1, keepdim=True)  # (B, heads, 1)
    if bool((totals <= 0).any()):
        raise ValueError("attention override has a row with no weight; each row must sum to 1")
    return override / totals


class Attention(nn.Module):
    """Base class: subclasses set ``heads`` and ``context_size`` and give ``scores``."""

    heads: int = 1
    context_size: int

    def precompute(self, values: Tensor) -> Tensor | tuple[Tensor, ...] | None:
        """Per-source projection of the memory, reused at every step."""
        return None

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """Raw pre-softmax scores (B, heads, S); padding positions are not masked."""
        raise NotImplementedError

    def context(self, weights: Tensor, memory: EncoderMemory) -> Tensor:
        """weights (B, heads, S) -> context (B, C): the weighted sum of the values."""
        return self.weighted_sum(weights, memory.values)

    def forward(
        self,
        query: Tensor,
        memory: EncoderMemory,
        state: DecoderState,
        override: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """-> context (B, C), weights (B, heads, S); ``override`` (checked) replaces the
        softmax's weights."""
        if override is None:
            weights = masked_softmax(self.scores(query, memory, state), memory.mask)
        else:
            weights = override
        return self.context(weights, memory), weights

    def weighted_sum(self, weights: Tensor, values: Tensor) -> Tensor:
        """(B, 1, S) x (B, S, Hv) -> (B, Hv)."""
        return torch.bmm(weights, values).squeeze(1)


class BahdanauAttention(Attention):
    """Additive / concat attention: score = vᵀ tanh(W q + U h) (Bahdanau 2015)."""

    def __init__(self, query_size: int, value_size: int, hidden: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_size, hidden, bias=False)
        self.key_proj = nn.Linear(value_size, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.context_size = value_size

    def precompute(self, values: Tensor) -> Tensor:
        return self.key_proj(values)  # U h: (B, S, A)

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """vᵀ tanh(W q + U h): (B, 1, S) additive energies."""
        projected = self.query_proj(query).unsqueeze(1)  # W q: (B, 1, A)
        energy = torch.tanh(projected + memory.keys)  # (B, S, A)
        return self.score(energy).transpose(1, 2)  # (B, 1, S)


class LuongDotAttention(Attention):
    """Luong dot: score = qᵀ h (query and memory must have the same size)."""

    def __init__(self, query_size: int, value_size: int) -> None:
        super().__init__()
        if query_size != value_size:
            raise ValueError(
                f"dot attention needs decoder size == memory size, got {query_size} and {value_size}"
            )
        self.context_size = value_size

    def precompute(self, values: Tensor) -> Tensor:
        return values

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """qᵀ h (or qᵀ W h): (B, 1, S) dot products."""
        return torch.bmm(memory.keys, query.unsqueeze(2)).transpose(1, 2)  # (B, 1, S)


class LuongGeneralAttention(LuongDotAttention):
    """Luong general: score = qᵀ W h, with W h precomputed per source."""

    def __init__(self, query_size: int, value_size: int) -> None:
        Attention.__init__(self)
        self.key_proj = nn.Linear(value_size, query_size, bias=False)
        self.context_size = value_size

    def precompute(self, values: Tensor) -> Tensor:
        return self.key_proj(values)  # (B, S, Hq)


class LuongLocationAttention(Attention):
    """Luong location: weights from the decoder state alone, a = softmax(W q).

    Scores exist for ``max_positions`` source slots; they are cut to the
    batch's length, and padding is masked so each row renormalises to the
    real source length.
    """

    def __init__(self, query_size: int, value_size: int, max_positions: int) -> None:
        super().__init__()
        self.position_scores = nn.Linear(query_size, max_positions)
        self.max_positions = max_positions
        self.context_size = value_size

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """W q cut to the source length: (B, 1, S) location scores."""
        length = memory.values.size(1)
        if length > self.max_positions:
            raise ValueError(
                f"source has {length} positions; location attention supports {self.max_positions}"
            )
        return self.position_scores(query)[:, :length].unsqueeze(1)  # (B, 1, S)


class LocationSensitiveAttention(BahdanauAttention):
    """Chorowski 2015: additive score plus a convolution over the previous alignment.

    score = vᵀ tanh(W q + U h + V (F * α_prev)); with ``cumulative`` the
    convolution sees the sum of all previous alignments instead.
    """

    def __init__(self, query_size: int, value_size: int, hidden: int, config: AttentionConfig):
        super().__init__(query_size, value_size, hidden)
        self.location_conv = nn.Conv1d(
            1, config.location_channels, config.location_kernel, padding=config.location_kernel // 2
        )
        self.location_proj = nn.Linear(config.location_channels, hidden, bias=False)
        self.cumulative = config.cumulative

    def location_features(self, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """V (F * α_prev): the previous alignment (or coverage) convolved, (B, S, A)."""
        previous = state.cumulative if self.cumulative else state.alignment  # (B, 1, S)
        if previous is None:
            previous = memory.values.new_zeros(memory.values.size(0), 1, memory.values.size(1))
        location = self.location_conv(previous)  # (B, C, S)
        return self.location_proj(location.transpose(1, 2))  # (B, S, A)

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """vᵀ tanh(W q + U h + V (F * α_prev)): (B, 1, S) location-sensitive energies."""
        projected = self.query_proj(query).unsqueeze(1)  # W q: (B, 1, A)
        location = self.location_features(memory, state)  # (B, S, A)
        energy = torch.tanh(projected + memory.keys + location)  # (B, S, A)
        return self.score(energy).transpose(1, 2)  # (B, 1, S)


class MultiHeadAttention(Attention):
    """Scaled dot-product attention with ``heads`` heads; weights kept per head.

    Same parameterisation as ``torch.nn.MultiheadAttention(embed_dim=hidden,
    num_heads=heads, kdim=value_size, vdim=value_size)`` with the query
    projected from ``query_size``. The weights are always computed explicitly:
    the product exists to show them.
    """

    def __init__(self, query_size: int, value_size: int, hidden: int, heads: int) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"attention hidden {hidden} is not divisible by heads {heads}")
        self.heads = heads
        self.head_dim = hidden // heads
        self.query_proj = nn.Linear(query_size, hidden)
        self.key_proj = nn.Linear(value_size, hidden)
        self.value_proj = nn.Linear(value_size, hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.context_size = hidden

    def _split(self, x: Tensor) -> Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)  # (B, h, S, d)

    def precompute(self, values: Tensor) -> tuple[Tensor, Tensor]:
        return self._split(self.key_proj(values)), self._split(self.value_proj(values))

    def scores(self, query: Tensor, memory: EncoderMemory, state: DecoderState) -> Tensor:
        """qₕᵀ kₕ / √d per head: (B, h, S) scaled dot products."""
        keys, _ = memory.keys
        q = self.query_proj(query).view(-1, self.heads, 1, self.head_dim)  # (B, h, 1, d)
        return torch.matmul(q, keys.transpose(2, 3)).squeeze(2) / math.sqrt(self.head_dim)

    def context(self, weights: Tensor, memory: EncoderMemory) -> Tensor:
        """Each head's weights (B, h, S) over its values, concatenated and projected: (B, C)."""
        _, values = memory.keys
        context = torch.matmul(weights.unsqueeze(2), values).squeeze(2)  # (B, h, d)
        return self.out_proj(context.reshape(context.size(0), -1))


def build_attention(
    config: AttentionConfig, *, query_size: int, value_size: int, max_positions: int
) -> Attention | None:
    """The attention module named by ``config.kind`` (None for "none")."""
    hidden = config.hidden or query_size
    builders = {
        "additive": lambda: BahdanauAttention(query_size, value_size, hidden),
        "dot": lambda: LuongDotAttention(query_size, value_size),
        "general": lambda: LuongGeneralAttention(query_size, value_size),
        "location": lambda: LuongLocationAttention(query_size, value_size, max_positions),
        "location_sensitive": lambda: LocationSensitiveAttention(
            query_size, value_size, hidden, config
        ),
        "multihead": lambda: MultiHeadAttention(query_size, value_size, hidden, config.heads),
        "none": lambda: None,
    }
    if config.kind not in builders:
        raise ValueError(f"unknown attention {config.kind!r}; valid: {', '.join(builders)}")
    return builders[config.kind]()


__all__ = [
    "Attention",
    "BahdanauAttention",
    "LocationSensitiveAttention",
    "LuongDotAttention",
    "LuongGeneralAttention",
    "LuongLocationAttention",
    "MultiHeadAttention",
    "build_attention",
    "check_override",
    "masked_softmax",
]
