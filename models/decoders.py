"""Decoders sharing one step: ``step(prev_tokens, state, memory) -> (log_probs, state, attn)``.

- prev_tokens: (B,) long, the previous output token (bos at the start)
- state:       DecoderState (hidden (L, B, H), cell, feed, alignment, cumulative)
- memory:      EncoderMemory (values (B, S, Hv), mask, final, keys)
- log_probs:   (B, V) log-softmax over the target vocabulary
- attn:        (B, heads, S) weights of this step, None without attention

Greedy, beam, sampling, forced tokens, the GUI's stepping and the training
loss all use this one step.
"""

from __future__ import annotations

import torch
from torch import _VF, Tensor, nn
from torch.nn import functional

from attnscope.models.attention import Attention, build_attention
from attnscope.models.config import DecoderConfig, ModelConfig
from attnscope.models.encoders import RNN_CLASSES
from attnscope.models.state import DecoderState, EncoderMemory
from attnscope.models.weight_layout import InputMajorWeights, use_input_major

StepOutput = tuple[Tensor, DecoderState, Tensor | None]


class OutputLayer(nn.Module):
    """Hidden (B, H) -> log-probs (B, V); optionally tied to the target embedding."""

    def __init__(self, hidden: int, embedding: nn.Embedding, *, tie: bool) -> None:
        super().__init__()
        vocab, embed_dim = embedding.weight.shape
        if tie:
            self.pre = nn.Linear(hidden, embed_dim) if hidden != embed_dim else nn.Identity()
            self.proj = nn.Linear(embed_dim, vocab)
            self.proj.weight = embedding.weight
        else:
            self.pre = nn.Identity()
            self.proj = nn.Linear(hidden, vocab)
        self._input_major = InputMajorWeights()

    def forward(self, hidden: Tensor) -> Tensor:
        pre, proj = self.pre, self.proj  # functional calls: no module dispatch per step
        batched = use_input_major(hidden)
        if isinstance(pre, nn.Linear):
            weight = self._input_major.get(pre.weight) if batched else pre.weight
            hidden = functional.linear(hidden, weight, pre.bias)
        weight = self._input_major.get(proj.weight) if batched else proj.weight
        return torch.log_softmax(functional.linear(hidden, weight, proj.bias), dim=-1)


def _gru_layers(inputs: Tensor, hidden: Tensor, weights: list[Tensor]) -> tuple[Tensor, Tensor]:
    """One eval time step of a stacked GRU: inputs (B, I), hidden (L, B, H) -> output, hidden.

    ``torch.gru_cell`` per layer gives the bits of ``nn.GRU``'s own call
    (``_VF.gru``) without its sequence bookkeeping (~12 µs less per batch-1
    step); ``weights`` are the RNN's flat weights, four per layer.
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


class _RecurrentDecoderBase(nn.Module):
    """Shared parts: embedding, RNN cell stack, bridge from the encoder summary."""

    def __init__(
        self, embedding: nn.Embedding, config: DecoderConfig, *, input_size: int, encoder_size: int
    ) -> None:
        super().__init__()
        self.embedding = embedding
        self.config = config
        self.rnn = RNN_CLASSES[config.cell](
            input_size,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.bridge = nn.Linear(encoder_size, config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self._input_major = InputMajorWeights()

    def _drop(self, x: Tensor) -> Tensor:
        """Dropout while training; nothing to call in eval."""
        return self.dropout(x) if self.training else x

    def _embed(self, tokens: Tensor) -> Tensor:
        """(B,) token ids -> (B, E), dropout while training."""
        return self._drop(
            functional.embedding(tokens, self.embedding.weight, self.embedding.padding_idx)
        )

    def _initial_hidden(self, memory: EncoderMemory) -> tuple[Tensor, Tensor | None]:
        """(L, B, H) hidden from tanh(W·final), and a zero cell for LSTM."""
        h0 = torch.tanh(self.bridge(memory.final))  # (B, H)
        hidden = h0.unsqueeze(0).repeat(self.config.layers, 1, 1).contiguous()
        cell = torch.zeros_like(hidden) if self.config.cell == "lstm" else None
        return hidden, cell

    def _refresh_rnn_weights(self) -> None:
        """Re-read the RNN's weight list if its parameters were replaced (once per decode)."""
        if self.rnn._weights_have_changed():
            self.rnn._init_flat_weights()

    def _run_cell(
        self, inputs: Tensor, state: DecoderState
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One RNN time step: inputs (B, I) -> output (B, H), hidden, cell."""
        rnn = self.rnn
        if self.training:  # the module: inter-layer dropout, weight checks
            rnn_state = (state.hidden, state.cell) if state.cell is not None else state.hidden
            output, new = rnn(inputs.unsqueeze(1), rnn_state)
            if isinstance(new, tuple):
                return output.squeeze(1), new[0], new[1]
            return output.squeeze(1), new, None
        weights = rnn._flat_weights
        if use_input_major(inputs):
            weights = self._input_major.get_all(weights)
        if state.cell is None:
            output, hidden = _gru_layers(inputs, state.hidden, weights)
            return output, hidden, None
        # eval LSTM: the very ATen call nn.LSTM.forward makes, without its per-call checks
        # (its cell function would round differently)
        settings = (rnn.bias, rnn.num_layers, rnn.dropout, False, False, True)
        output, hidden, cell = _VF.lstm(
            inputs.unsqueeze(1), (state.hidden, state.cell), weights, *settings
        )
        return output.squeeze(1), hidden, cell


class AttentionDecoder(_RecurrentDecoderBase):
    """LSTM/GRU decoder with any attention from the family.

    Bahdanau placement: the query is the previous top-layer state s_{t-1}; the
    context enters the RNN input. Luong placement: the RNN runs first, its
    output h_t is the query. Both then form the attentional vector
    h̃ = tanh(W [h_t; c_t]); with input feeding, h̃_{t-1} is part of the input.
    """

    def __init__(
        self,
        embedding: nn.Embedding,
        attention: Attention,
        config: DecoderConfig,
        *,
        encoder_size: int,
        tie_output: bool,
    ) -> None:
        context = attention.context_size
        input_size = embedding.embedding_dim
        input_size += context if config.placement == "bahdanau" else 0
        input_size += config.hidden if config.input_feed else 0
        super().__init__(embedding, config, input_size=input_size, encoder_size=encoder_size)
        self.attention = attention
        self.combine = nn.Linear(config.hidden + context, config.hidden)
        self.output = OutputLayer(config.hidden, embedding, tie=tie_output)

    @property
    def num_heads(self) -> int:
        return self.attention.heads

    def precompute(self, memory: EncoderMemory) -> EncoderMemory:
        """Attach the attention's per-source projection (once per input)."""
        from dataclasses import replace

        source = memory.values if memory.key_source is None else memory.key_source
        return replace(memory, keys=self.attention.precompute(source))

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        self._refresh_rnn_weights()
        hidden, cell = self._initial_hidden(memory)
        batch, length = memory.mask.shape
        feed = hidden.new_zeros(batch, self.config.hidden) if self.config.input_feed else None
        zeros = hidden.new_zeros(batch, self.attention.heads, length)
        return DecoderState(hidden=hidden, cell=cell, feed=feed, alignment=zeros, cumulative=zeros)

    def step(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory) -> StepOutput:
        readout, new_state, weights = self.advance(prev_tokens, state, memory)
        return self.output(readout), new_state, weights

    def advance(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory):
        """The step without the output layer: -> (readout (B, H), new state, attn).

        Training runs ``advance`` per token and ``output`` once over all
        tokens (one large matrix product instead of T small ones).
        """
        embedded = self._embed(prev_tokens)  # (B, E)
        feed = [state.feed] if self.config.input_feed else []
        if self.config.placement == "bahdanau":
            context, weights = self.attention(state.hidden[-1], memory, state)
            output, hidden, cell = self._run_cell(torch.cat([embedded, context, *feed], -1), state)
        else:
            output, hidden, cell = self._run_cell(torch.cat([embedded, *feed], -1), state)
            context, weights = self.attention(output, memory, state)
        combined = torch.cat([output, context], -1)  # (B, H + C)
        weight = self.combine.weight
        if use_input_major(combined):
            weight = self._input_major.get(weight)
        attentional = torch.tanh(functional.linear(combined, weight, self.combine.bias))
        new_state = DecoderState(
            hidden=hidden,
            cell=cell,
            feed=attentional if self.config.input_feed else None,
            alignment=weights,
            cumulative=state.cumulative + weights,
        )
        return self._drop(attentional), new_state, weights


class PlainDecoder(_RecurrentDecoderBase):
    """No attention: every step sees only the encoder's final summary (Cho et al. 2014)."""

    num_heads = 0

    def __init__(
        self, embedding: nn.Embedding, config: DecoderConfig, *, encoder_size: int, tie_output: bool
    ) -> None:
        input_size = embedding.embedding_dim + encoder_size
        super().__init__(embedding, config, input_size=input_size, encoder_size=encoder_size)
        self.output = OutputLayer(config.hidden + encoder_size, embedding, tie=tie_output)

    def precompute(self, memory: EncoderMemory) -> EncoderMemory:
        return memory

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        self._refresh_rnn_weights()
        hidden, cell = self._initial_hidden(memory)
        return DecoderState(hidden=hidden, cell=cell)

    def step(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory) -> StepOutput:
        readout, new_state, _ = self.advance(prev_tokens, state, memory)
        return self.output(readout), new_state, None

    def advance(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory):
        """The step without the output layer: -> (readout (B, H + H_enc), new state, None)."""
        embedded = self._embed(prev_tokens)
        output, hidden, cell = self._run_cell(torch.cat([embedded, memory.final], -1), state)
        readout = self._drop(torch.cat([output, memory.final], -1))
        return readout, DecoderState(hidden=hidden, cell=cell), None


def build_decoder(
    config: ModelConfig, embedding: nn.Embedding, *, encoder_size: int, max_positions: int
) -> nn.Module:
    """The decoder for ``config``: PlainDecoder for attention "none", else AttentionDecoder."""
    if config.attention.kind == "none":
        return PlainDecoder(
            embedding, config.decoder, encoder_size=encoder_size, tie_output=config.tie_output
        )
    attention = build_attention(
        config.attention,
        query_size=config.decoder.hidden,
        value_size=encoder_size,
        max_positions=max_positions,
    )
    return AttentionDecoder(
        embedding,
        attention,
        config.decoder,
        encoder_size=encoder_size,
        tie_output=config.tie_output,
    )
