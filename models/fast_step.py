"""The decoder's optimised eval-time step: the reference math of attention.py and
decoders.py rearranged for speed, with the reference's bits (one exception below).

One switch selects it: every decoder holds ``fast_step``, a ``FastStep`` by default
and None after ``use_fast_paths(model, False)``; the decoder runs it instead of its
reference math when it has one and is not training (``_RecurrentDecoderBase._fast``,
nanoGPT's ``if self.flash`` beside the manual path). Training always runs the
reference math.

What it does differently, and why the bits stay:

- **Recurrent cell**: ``torch.gru_cell`` per layer (a GRU) or the very ``_VF.lstm``
  call ``nn.LSTM.forward`` makes (an LSTM), on the RNN's flat weights, without the
  module's per-call checks and sequence bookkeeping (~12 µs less per batch-1 step).
  Same kernels, same bits (tests/models/test_step_equivalence.py).
- **Input-major weight copies** (``InputMajorWeights``): for a product of at least
  ``MIN_ROWS`` rows on the CPU without autograd, MKL gives bit-identical results
  ~3-16 % faster when the weight is an (in, out) contiguous matrix (measured on this
  project's bench machine: the 160-row beam step's (512 -> 8000) output layer 18.0 ->
  15.1 ms, its 2-layer GRU 17.4 -> 16.8 ms). With fewer rows MKL takes its
  matrix-vector path, whose rounding depends on the layout, so batch-1 stepping keeps
  the module's own weights (and the bench's floor replays those). The copies are made
  on first use, outside autograd, remade when a weight changes (an optimiser step,
  ``load_state_dict``, ``.to(device)``), and cost one extra copy of the decoder's
  matrices while batched decoding runs (~35 MB for the bench's beam model).
- **Scratch pool**: under ``torch.inference_mode`` a large additive energy (B, S, A)
  (beam search over a batch) is written into a reused per-thread buffer instead of a
  fresh multi-megabyte tensor whose page faults cost every step. Same arithmetic.
- **Packed additive scorer**: for a large padded batch under ``inference_mode``,
  additive attention scores only the real positions, through tanh(x) = 2σ(2x) - 1.
  This is the exception: its scores differ from the reference's by rounding
  (~1e-6; tests/models/test_attention_modules.py).
- **Grouped dot products** (``general`` / ``dot`` attention in beam search): an input's
  k rows share one product for scores and context, in widths that keep the one-row
  products' bits (models/grouped_products.py; bench beam step: 4.4 -> 1.6 ms).
- **Padding worked out once per memory** (``EncoderMemory.padding``), and functional
  calls instead of module dispatch.
- **int8 products** (engine/quantize.py): a dynamically quantized Linear or GRU runs
  the very op its module's forward calls (``quantized::linear_dynamic``,
  ``torch.quantized_gru``) without the module's call overhead, so an int8 model's
  fast step gives the bits of its reference step (tests/engine/test_quantize.py).
  Such products never take the input-major copies or the packed additive scorer
  (both read float32 weights); an int8 LSTM runs as its module.
"""

from __future__ import annotations

import math
import threading

import torch
from torch import _VF, Tensor, nn
from torch.nn import functional

from attnscope.models.attention import (
    BahdanauAttention,
    LocationSensitiveAttention,
    LuongDotAttention,
    LuongGeneralAttention,
)
from attnscope.models.grouped_products import row_groups, use_grouped_products
from attnscope.models.state import DecoderState, EncoderMemory

MIN_ROWS = 4  # 1..3 rows take MKL's matrix-vector path (layout-dependent rounding)
# Below this size (256 KiB of float32) a fresh tensor comes cheap from the heap and the
# pool's bookkeeping would cost more than it saves (batch-1 stepping).
SCRATCH_MIN_ELEMENTS = 1 << 16
# Additive attention scores only the real positions of a padded batch when at most this
# share of the (B, S) grid is real (a random batch of 10..30-token sentences: ~2/3).
PACK_MAX_FRACTION = 0.9

_scratch = threading.local()


def _scratch_buffer(shape: torch.Size, like: Tensor) -> Tensor:
    """A reused buffer of ``shape`` (per thread, dtype and device) for a step's temporary.

    Only for a value that dies inside the call that asks for it: the next call
    overwrites it.
    """
    pool = _scratch.__dict__.setdefault("pool", {})
    key, size = (like.dtype, like.device), math.prod(shape)
    buffer = pool.get(key)
    if buffer is None or buffer.numel() < size:
        buffer = pool[key] = torch.empty(size, dtype=like.dtype, device=like.device)
    return buffer[:size].view(shape)


def _stamp(weight: Tensor) -> tuple:
    """What identifies the contents of ``weight`` (in-place updates bump ``_version``)."""
    return (weight.data_ptr(), weight._version, weight.shape, weight.dtype, weight.device)


class InputMajorWeights:
    """A cache of (out, in) views of contiguous (in, out) weight copies."""

    def __init__(self) -> None:
        self._copies: dict[int, tuple[tuple, Tensor]] = {}

    def get(self, weight: Tensor) -> Tensor:
        """``weight`` (out, in) as a view of an (in, out) contiguous copy (same values)."""
        key, stamp = id(weight), _stamp(weight)
        hit = self._copies.get(key)
        if hit is None or hit[0] != stamp:
            with torch.inference_mode(False), torch.no_grad():  # a plain tensor, usable anywhere
                copy = weight.detach().t().contiguous().t()
            hit = self._copies[key] = (stamp, copy)
        return hit[1]

    def get_all(self, weights: list[Tensor]) -> list[Tensor]:
        """``get`` for every matrix of a list (an RNN's flat weights); vectors pass through."""
        return [self.get(w) if w.dim() == 2 else w for w in weights]


def use_input_major(inputs: Tensor) -> bool:
    """True for a product of ``inputs`` (..., in) with at least ``MIN_ROWS`` rows, run on
    the CPU without autograd (a batched decode). Other devices keep the module's weights:
    the measurement above is MKL's.
    """
    return (
        inputs.is_cpu
        and inputs.numel() >= MIN_ROWS * inputs.size(-1)
        and not torch.is_grad_enabled()
    )


def memory_softmax(scores: Tensor, memory: EncoderMemory) -> Tensor:
    """``masked_softmax(scores, memory.mask)`` with the memory's padding worked out once.

    scores: (B, heads, S). Without padding (batch 1) there is nothing to mask.
    """
    if memory.padding is not None:
        scores = scores.masked_fill(memory.padding, float("-inf"))
    return torch.softmax(scores, dim=-1)


def additive_energy(query: Tensor, keys: Tensor, location: Tensor | None = None) -> Tensor:
    """tanh(query + keys [+ location]): query (B, 1, A), keys (B, S, A) -> (B, S, A).

    Under ``torch.inference_mode`` a large result lives in the scratch pool, valid until
    the next call in this thread; otherwise it is a new tensor. Same arithmetic either way.
    """
    if keys.numel() >= SCRATCH_MIN_ELEMENTS and torch.is_inference_mode_enabled():
        energy = torch.add(query, keys, out=_scratch_buffer(keys.shape, keys))
    else:
        energy = query + keys
    if location is not None:
        energy.add_(location)
    return energy.tanh_()


def gru_layers(inputs: Tensor, hidden: Tensor, weights: list[Tensor]) -> tuple[Tensor, Tensor]:
    """One eval time step of a stacked GRU: inputs (B, I), hidden (L, B, H) -> output, hidden.

    ``torch.gru_cell`` per layer gives the bits of ``nn.GRU``'s own call (``_VF.gru``);
    ``weights`` are the RNN's flat weights, four per layer.
    """
    layers = hidden.size(0)
    if layers == 1:
        output = torch.gru_cell(inputs, hidden[0], *weights[:4])
        return output, output.unsqueeze(0)
    states = []
    for layer in range(layers):
        inputs = torch.gru_cell(inputs, hidden[layer], *weights[4 * layer : 4 * layer + 4])
        states.append(inputs)
    return inputs, torch.stack(states)


def additive_scores(score: nn.Linear, energy: Tensor) -> Tensor:
    """vᵀ energy: (B, S, A) -> (B, 1, S), as the one product ``score(energy)`` makes."""
    batch, length, hidden = energy.shape
    scores = torch.mm(energy.view(-1, hidden), score.weight.t())  # (B·S, 1)
    return scores.view(batch, 1, length)


class FastStep:
    """The optimised eval step of one decoder; holds that decoder's input-major copies.

    Reads the decoder's own modules (``embedding``, ``attention``, ``rnn``, ``combine``,
    ``output``), so it follows every weight change; it keeps no parameters of its own.
    """

    def __init__(self) -> None:
        self._weights = InputMajorWeights()

    def _linear(self, inputs: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """``functional.linear`` on the input-major copy of ``weight`` for a batched product."""
        if use_input_major(inputs):
            weight = self._weights.get(weight)
        return functional.linear(inputs, weight, bias)

    def _product(self, layer: nn.Module, inputs: Tensor) -> Tensor:
        """``layer(inputs)`` for a float32 Linear (``_linear``) or an int8 one (the op its
        forward calls: quantize_int8 makes qint8 weights, ``reduce_range`` as torch sets it)."""
        packed = getattr(layer, "_packed_params", None)
        if packed is None:
            return self._linear(inputs, layer.weight, layer.bias)
        return torch.ops.quantized.linear_dynamic(inputs, packed._packed_params, reduce_range=True)

    def advance(self, decoder: nn.Module, prev_tokens: Tensor, state: DecoderState, memory):
        """``decoder.advance`` in eval: -> (readout (B, H'), new state, attn (B, heads, S) | None)."""
        embedding = decoder.embedding
        embedded = functional.embedding(prev_tokens, embedding.weight, embedding.padding_idx)
        attention = getattr(decoder, "attention", None)
        if attention is None:  # PlainDecoder: the encoder's summary at every step
            inputs = torch.cat([embedded, memory.final], -1)
            output, hidden, cell = self._run_cell(decoder.rnn, inputs, state)
            readout = torch.cat([output, memory.final], -1)  # (B, H + H_enc)
            return readout, DecoderState(hidden=hidden, cell=cell), None
        config = decoder.config
        feed = [state.feed] if config.input_feed else []
        if config.placement == "bahdanau":
            context, weights = self.attend(attention, state.hidden[-1], memory, state)
            inputs = torch.cat([embedded, context, *feed], -1)
            output, hidden, cell = self._run_cell(decoder.rnn, inputs, state)
        else:
            inputs = torch.cat([embedded, *feed], -1)
            output, hidden, cell = self._run_cell(decoder.rnn, inputs, state)
            context, weights = self.attend(attention, output, memory, state)
        combined = torch.cat([output, context], -1)  # (B, H + C)
        attentional = self._product(decoder.combine, combined)  # (B, H)
        if config.combine_activation == "tanh":
            attentional = torch.tanh(attentional)
        new_state = DecoderState(
            hidden=hidden,
            cell=cell,
            feed=attentional if config.input_feed else None,
            alignment=weights,
            cumulative=state.cumulative + weights,
        )
        return attentional, new_state, weights

    def attend(self, attention: nn.Module, query: Tensor, memory: EncoderMemory, state):
        """``attention(query, memory, state)`` -> (context (B, C), weights (B, heads, S)).

        The additive kinds and grouped dot kinds run here; the others run as written.
        """
        if type(attention) in (LuongDotAttention, LuongGeneralAttention):
            groups = row_groups(memory) if use_grouped_products(query) else None
            if groups is None:
                return attention(query, memory, state)
            weights = memory_softmax(groups.dot_scores(query), memory)  # (B, 1, S)
            return groups.context(weights), weights  # (B, C), (B, 1, S)
        elif type(attention) is LocationSensitiveAttention:
            location = attention.location_features(memory, state)  # (B, S, A)
            projected = self._product(attention.query_proj, query).unsqueeze(1)
            energy = additive_energy(projected, memory.keys, location)  # (B, S, A)
            weights = memory_softmax(self._scores(attention.score, energy), memory)
        elif type(attention) is BahdanauAttention:
            projected = self._product(attention.query_proj, query)  # (B, A)
            packed = self._real_positions(attention, memory)
            if packed is None:
                energy = additive_energy(projected.unsqueeze(1), memory.keys)  # (B, S, A)
                weights = memory_softmax(self._scores(attention.score, energy), memory)
            else:
                weights = _packed_weights(attention.score, projected, memory, *packed)
        else:
            return attention(query, memory, state)
        return attention.weighted_sum(weights, memory.values), weights  # (B, C), (B, 1, S)

    def _scores(self, score: nn.Module, energy: Tensor) -> Tensor:
        """vᵀ energy: (B, S, A) -> (B, 1, S), float32 (``additive_scores``) or int8."""
        if getattr(score, "_packed_params", None) is None:
            return additive_scores(score, energy)
        return self._product(score, energy).transpose(1, 2)  # (B, S, 1) -> (B, 1, S)

    @staticmethod
    def _real_positions(attention, memory: EncoderMemory) -> tuple[Tensor, Tensor, Tensor] | None:
        """(rows (P,), flat (P,), keys (P, A)) of the P real positions, once per memory.

        Only for a large padded batch under ``torch.inference_mode`` (beam search over
        sentences of mixed lengths), where a third or more of a (B, S, A) energy would be
        computed for padding; None otherwise.
        """
        keys = memory.keys
        if (
            memory.padding is None
            or keys.numel() < SCRATCH_MIN_ELEMENTS
            or not torch.is_inference_mode_enabled()
            or hasattr(attention.score, "_packed_params")  # int8: no float32 v to read
        ):
            return None
        derived = memory.derived
        if attention not in derived:
            flat = memory.mask.reshape(-1).nonzero().squeeze(1)  # (P,) into B·S
            worth = flat.numel() <= PACK_MAX_FRACTION * memory.mask.numel()
            derived[attention] = None
            if worth:
                rows = torch.div(flat, memory.mask.size(1), rounding_mode="floor")
                packed_keys = keys.reshape(-1, keys.size(-1)).index_select(0, flat)
                derived[attention] = (rows, flat, packed_keys)
        return derived[attention]

    def log_probs(self, layer: nn.Module, hidden: Tensor) -> Tensor:
        """``OutputLayer`` in eval: hidden (..., H) -> log-probs (..., V).

        Without autograd the log-softmax overwrites the logits (the kernel's arithmetic,
        hence its bits, is the same), so a step allocates one (B, V) block instead of
        two: at beam 5 × batch 32 × 8000 words, 5 MB of fresh pages less per step.
        """
        if not isinstance(layer.pre, nn.Identity):
            hidden = self._product(layer.pre, hidden)
        logits = self._product(layer.proj, hidden)  # (..., V)
        if logits.requires_grad:
            return torch.log_softmax(logits, dim=-1)
        return torch.log_softmax(logits, dim=-1, out=logits)

    def _run_cell(
        self, rnn: nn.RNNBase, inputs: Tensor, state: DecoderState
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One RNN time step: inputs (B, I) -> output (B, H), hidden (L, B, H), cell."""
        if hasattr(rnn, "_all_weight_values"):  # int8 (engine/quantize.py)
            return _int8_cell(rnn, inputs, state)
        weights = rnn._flat_weights
        if use_input_major(inputs):
            weights = self._weights.get_all(weights)
        if state.cell is None:
            output, hidden = gru_layers(inputs, state.hidden, weights)
            return output, hidden, None
        # the very ATen call nn.LSTM.forward makes (its cell function would round differently)
        settings = (rnn.bias, rnn.num_layers, rnn.dropout, False, False, True)
        output, hidden, cell = _VF.lstm(
            inputs.unsqueeze(1), (state.hidden, state.cell), weights, *settings
        )
        return output.squeeze(1), hidden, cell


def _int8_cell(
    rnn: nn.Module, inputs: Tensor, state: DecoderState
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One time step of a dynamically quantized RNN: a GRU through the op its forward
    calls, an LSTM through the module (as the reference step runs it)."""
    sequence = inputs.unsqueeze(1)  # (B, 1, I), batch first as the decoders build their RNN
    if state.cell is not None:
        output, (hidden, cell) = rnn(sequence, (state.hidden, state.cell))
        return output.squeeze(1), hidden, cell
    params = [weights.param for weights in rnn._all_weight_values]
    settings = (rnn.bias, rnn.num_layers, float(rnn.dropout), False, rnn.bidirectional, True)
    output, hidden = torch.quantized_gru(sequence, state.hidden, params, *settings)
    return output.squeeze(1), hidden, None


def _packed_weights(
    score: nn.Linear,
    projected: Tensor,
    memory: EncoderMemory,
    rows: Tensor,
    flat: Tensor,
    keys: Tensor,
) -> Tensor:
    """The additive weights (B, 1, S) from energies at the P real positions only.

    Each real position gets vᵀ tanh(W q + U h) through the identity tanh(x) = 2σ(2x) - 1,
    i.e. 2·vᵀσ(2x) - Σv: the doubling is exact in floating point and σ costs a third of
    tanh on this path's millions of elements (batched beam search: ~7 % more tokens/s).
    The scores differ from the padded path's by rounding only (~1e-6). Padding gets
    -inf before the softmax, as masking gives it.
    projected: (B, A) W q; rows, flat: (P,); keys: (P, A) U h at the real positions.
    """
    doubled = torch.index_select(projected * 2, 0, rows, out=_scratch_buffer(keys.shape, keys))
    gates = doubled.add_(keys, alpha=2).sigmoid_()  # σ(2(W q + U h)), (P, A)
    weight = score.weight  # (1, A)
    real_scores = torch.mv(gates, weight[0] * 2).sub_(weight.sum())  # (P,)
    batch, length = memory.mask.shape
    scores = projected.new_full((batch * length,), float("-inf"))
    scores.index_copy_(0, flat, real_scores)
    return torch.softmax(scores.view(batch, 1, length), dim=-1)


def use_fast_paths(model: nn.Module, on: bool = True) -> nn.Module:
    """Switch the optimised eval step of every decoder in ``model`` on or off; -> model.

    On is the default for a new model. Off runs the reference math in eval too: slower,
    the same bits except where the packed additive scorer would round differently.
    """
    for module in model.modules():
        if hasattr(module, "fast_step"):
            module.fast_step = FastStep() if on else None
    return model


def fast_paths_on(model: nn.Module) -> bool:
    """True if any decoder in ``model`` has its optimised eval step switched on."""
    return any(getattr(module, "fast_step", None) is not None for module in model.modules())


__all__ = [
    "MIN_ROWS",
    "PACK_MAX_FRACTION",
    "SCRATCH_MIN_ELEMENTS",
    "FastStep",
    "InputMajorWeights",
    "additive_energy",
    "additive_scores",
    "fast_paths_on",
    "gru_layers",
    "memory_softmax",
    "use_fast_paths",
    "use_input_major",
]
