"""The attention family. Every module scores one decoder query against the memory.

Call signature shared by all: ``attn(query, memory, state) -> (context, weights)``

- query:   (B, Hq) decoder state (Bahdanau placement) or output (Luong placement)
- memory:  EncoderMemory with values (B, S, Hv), mask (B, S) and ``keys`` made by
  ``attn.precompute(values)`` once per source
- state:   the DecoderState (location-sensitive reads its previous alignment)
- context: (B, attn.context_size)
- weights: (B, heads, S); padding gets exactly 0 and each row sums to 1.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import Tensor, nn
from torch.nn import functional

from attnscope.models.config import AttentionConfig
from attnscope.models.state import DecoderState, EncoderMemory
from attnscope.models.weight_layout import InputMajorWeights, use_input_major


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Softmax over the last dim with padding forced to exactly 0.

    scores: (B, heads, S); mask: (B, S) bool, True at real positions.
    """
    scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
    return torch.softmax(scores, dim=-1)


def memory_softmax(scores: Tensor, memory: EncoderMemory) -> Tensor:
    """``masked_softmax(scores, memory.mask)`` with the memory's padding worked out once.

    scores: (B, heads, S). Without padding (batch 1) there is nothing to mask.
    """
    if memory.padding is not None:
        scores = scores.masked_fill(memory.padding, float("-inf"))
    return torch.softmax(scores, dim=-1)


_scratch = threading.local()
# Below this size (256 KiB of float32) a fresh tensor comes cheap from the heap and the
# pool's bookkeeping would cost more than it saves (batch-1 stepping).
SCRATCH_MIN_ELEMENTS = 1 << 16
# Additive attention scores only the real positions of a padded batch when at most this
# share of the (B, S) grid is real (a random batch of 10..30-token sentences: ~2/3).
PACK_MAX_FRACTION = 0.9


def _scratch_buffer(shape: torch.Size, like: Tensor) -> Tensor:
    """A reused buffer of ``shape`` (per thread, dtype and device) for a step's temporary.

    Only for a value that dies inside the call that asks for it: the next call
    overwrites it. A fresh multi-megabyte tensor per beam step costs its page
    faults every time; this one is allocated once.
    """
    pool = _scratch.__dict__.setdefault("pool", {})
    key, size = (like.dtype, like.device), math.prod(shape)
    buffer = pool.get(key)
    if buffer is None or buffer.numel() < size:
        buffer = pool[key] = torch.empty(size, dtype=like.dtype, device=like.device)
    return buffer[:size].view(shape)


def additive_energy(query: Tensor, keys: Tensor, location: Tensor | None = None) -> Tensor:
    """tanh(query + keys [+ location]): query (B, 1, A), keys (B, S, A) -> (B, S, A).

    Under ``torch.inference_mode`` a large (B, S, A) result (beam search over a
    batch) lives in a reused scratch buffer, valid until the next call in this
    thread; otherwise it is a new tensor. Same arithmetic either way.
    """
    if keys.numel() >= SCRATCH_MIN_ELEMENTS and torch.is_inference_mode_enabled():
        energy = torch.add(query, keys, out=_scratch_buffer(keys.shape, keys))
    else:
        energy = query + keys
    if location is not None:
        energy.add_(location)
    return energy.tanh_()


class Attention(nn.Module):
    """Base class: subclasses set ``heads`` and ``context_size``."""

    heads: int = 1
    context_size: int

    def precompute(self, values: Tensor) -> Tensor | tuple[Tensor, ...] | None:
        """Per-source projection of the memory, reused at every step."""
        return None

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
        self._input_major = InputMajorWeights()

    def precompute(self, values: Tensor) -> Tensor:
        return self.key_proj(values)  # (B, S, A)

    def _project_query(self, query: Tensor) -> Tensor:
        """W q: (B, Hq) -> (B, A)."""
        weight = self.query_proj.weight
        if use_input_major(query):
            weight = self._input_major.get(weight)
        return functional.linear(query, weight)

    def forward(self, query: Tensor, memory: EncoderMemory, state: DecoderState):
        projected = self._project_query(query)  # (B, A)
        packed = self._real_positions(memory)
        if packed is None:
            energy = additive_energy(projected.unsqueeze(1), memory.keys)  # (B, S, A)
            weights = memory_softmax(self._scores(energy), memory)
        else:
            weights = self._packed_weights(projected, memory, *packed)
        return self.weighted_sum(weights, memory.values), weights

    def _scores(self, energy: Tensor) -> Tensor:
        """vᵀ energy: (B, S, A) -> (B, 1, S), as the one product ``linear`` would make."""
        batch, length, hidden = energy.shape
        scores = torch.mm(energy.view(-1, hidden), self.score.weight.t())  # (B·S, 1)
        return scores.view(batch, 1, length)

    def _real_positions(self, memory: EncoderMemory) -> tuple[Tensor, Tensor, Tensor] | None:
        """(rows (P,), flat (P,), keys (P, A)) of the P real positions, once per memory.

        Only for a large padded batch under ``torch.inference_mode`` (beam search
        over sentences of mixed lengths), where a third or more of a (B, S, A)
        energy would be computed for padding; None otherwise.
        """
        keys = memory.keys
        if (
            memory.padding is None
            or keys.numel() < SCRATCH_MIN_ELEMENTS
            or not torch.is_inference_mode_enabled()
        ):
            return None
        derived = memory.derived
        if self not in derived:
            flat = memory.mask.reshape(-1).nonzero().squeeze(1)  # (P,) into B·S
            worth = flat.numel() <= PACK_MAX_FRACTION * memory.mask.numel()
            derived[self] = None
            if worth:
                rows = torch.div(flat, memory.mask.size(1), rounding_mode="floor")
                derived[self] = (rows, flat, keys.reshape(-1, keys.size(-1)).index_select(0, flat))
        return derived[self]

    def _packed_weights(
        self, projected: Tensor, memory: EncoderMemory, rows: Tensor, flat: Tensor, keys: Tensor
    ) -> Tensor:
        """The weights (B, 1, S) from energies at the real positions only.

        Each real position gets vᵀ tanh(W q + U h) through the identity
        tanh(x) = 2σ(2x) - 1, i.e. 2·vᵀσ(2x) - Σv: the doubling is exact in
        floating point and σ costs a third of tanh on this path's millions of
        elements (batched beam search: ~7 % more tokens/s). The scores differ
        from the padded path's by rounding only (~1e-6; see
        tests/models/test_attention_modules.py). Padding gets -inf before the
        softmax, as masking gives it.
        """
        doubled = torch.index_select(projected * 2, 0, rows, out=_scratch_buffer(keys.shape, keys))
        gates = doubled.add_(keys, alpha=2).sigmoid_()  # σ(2(W q + U h)), (P, A)
        score = self.score.weight  # (1, A)
        real_scores = torch.mv(gates, score[0] * 2).sub_(score.sum())  # (P,)
        batch, length = memory.mask.shape
        scores = projected.new_full((batch * length,), float("-inf"))
        scores.index_copy_(0, flat, real_scores)
        return torch.softmax(scores.view(batch, 1, length), dim=-1)


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

    def forward(self, query: Tensor, memory: EncoderMemory, state: DecoderState):
        scores = torch.bmm(memory.keys, query.unsqueeze(2)).transpose(1, 2)  # (B, 1, S)
        weights = memory_softmax(scores, memory)
        return self.weighted_sum(weights, memory.values), weights


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

    def forward(self, query: Tensor, memory: EncoderMemory, state: DecoderState):
        length = memory.values.size(1)
        if length > self.max_positions:
            raise ValueError(
                f"source has {length} positions; location attention supports {self.max_positions}"
            )
        scores = self.position_scores(query)[:, :length].unsqueeze(1)  # (B, 1, S)
        weights = memory_softmax(scores, memory)
        return self.weighted_sum(weights, memory.values), weights


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

    def forward(self, query: Tensor, memory: EncoderMemory, state: DecoderState):
        previous = state.cumulative if self.cumulative else state.alignment
        if previous is None:
            previous = memory.values.new_zeros(memory.values.size(0), 1, memory.values.size(1))
        location = self.location_conv(previous)  # (B, C, S)
        location = self.location_proj(location.transpose(1, 2))  # (B, S, A)
        projected = self._project_query(query).unsqueeze(1)  # (B, 1, A)
        energy = additive_energy(projected, memory.keys, location)  # (B, S, A)
        weights = memory_softmax(self._scores(energy), memory)
        return self.weighted_sum(weights, memory.values), weights


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

    def forward(self, query: Tensor, memory: EncoderMemory, state: DecoderState):
        keys, values = memory.keys
        q = self.query_proj(query).view(-1, self.heads, 1, self.head_dim)  # (B, h, 1, d)
        scores = torch.matmul(q, keys.transpose(2, 3)).squeeze(2) / math.sqrt(self.head_dim)
        weights = memory_softmax(scores, memory)  # (B, h, S)
        context = torch.matmul(weights.unsqueeze(2), values).squeeze(2)  # (B, h, d)
        return self.out_proj(context.reshape(context.size(0), -1)), weights


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
    "additive_energy",
    "build_attention",
    "masked_softmax",
    "memory_softmax",
]
