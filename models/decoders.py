"""Decoders sharing one step: ``step(prev_tokens, state, memory) -> (log_probs, state, attn)``.

- prev_tokens: (B,) long, the previous output token (bos at the start)
- state:       DecoderState (hidden (L, B, H), cell, feed, alignment, cumulative)
- memory:      EncoderMemory (values (B, S, Hv), mask, final, keys)
- log_probs:   (B, V) log-softmax over the target vocabulary
- attn:        (B, heads, S) weights of this step, None without attention
- attention_override: optional (B, heads, S) replacement weights for this step (the
  what-if edit): the context is made from them instead of the model's softmax, and they
  are returned as the step's attention and kept in the state (``alignment``,
  ``cumulative``), so location-sensitive attention convolves the edited alignment at
  the next step. A step with an override runs the reference math (the fast step does
  not take one); the no-attention decoder refuses it with ValueError.

Greedy, beam, sampling, forced tokens, the GUI's stepping and the training
loss all use this one step. What is written here is the reference math; in eval a
decoder runs the same step optimised by models/fast_step.py unless switched off with
``fast_step.use_fast_paths(model, False)`` (see ``_RecurrentDecoderBase._fast``).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from attnscope.models.attention import Attention, build_attention, check_override, masked_softmax
from attnscope.models.config import DecoderConfig, ModelConfig
from attnscope.models.encoders import RNN_CLASSES
from attnscope.models.fast_step import FastStep
from attnscope.models.state import DecoderState, EncoderMemory

StepOutput = tuple[Tensor, DecoderState, Tensor | None]


class OutputLayer(nn.Module):
    """Hidden (..., H) -> log-probs (..., V); optionally tied to the target embedding."""

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

    def forward(self, hidden: Tensor) -> Tensor:
        return torch.log_softmax(self.proj(self.pre(hidden)), dim=-1)  # (..., V)


class _RecurrentDecoderBase(nn.Module):
    """Shared parts: embedding, RNN cell stack, bridge from the encoder summary, output.

    ``fast_step`` is the one switch between the reference math (subclasses'
    ``_reference_advance`` and ``output``) and the optimised eval step: a
    ``FastStep`` (the default) or None (``fast_step.use_fast_paths(model, False)``).
    """

    output: OutputLayer

    def __init__(
        self,
        embedding: nn.Embedding,
        config: DecoderConfig,
        *,
        input_size: int,
        encoder_size: int,
        encoder_directions: int = 1,
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
        if config.init_from == "summary":
            self.bridge = nn.Linear(encoder_size, config.hidden)
        elif config.init_from == "final_states_bridge":
            # OpenNMT-py's -bridge: per state kind (h, and c for an LSTM) one Linear over
            # all layers of one direction, (layers·H/dirs) -> (layers·H/dirs)
            width = config.layers * config.hidden // encoder_directions
            kinds = 2 if config.cell == "lstm" else 1
            self.state_bridge = nn.ModuleList(nn.Linear(width, width) for _ in range(kinds))
        self.dropout = nn.Dropout(config.dropout)
        self.fast_step: FastStep | None = FastStep()

    def _fast(self) -> FastStep | None:
        """The optimised step if switched on and in eval mode; training runs the reference."""
        return None if self.training else self.fast_step

    num_heads: int

    def step(
        self,
        prev_tokens: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        attention_override: Tensor | None = None,
    ) -> StepOutput:
        """(B,) tokens -> (log_probs (B, V), new state, attn (B, heads, S) | None)."""
        readout, new_state, weights = self.advance(prev_tokens, state, memory, attention_override)
        return self.log_probs(readout), new_state, weights

    def advance(
        self,
        prev_tokens: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        attention_override: Tensor | None = None,
    ):
        """The step without the output layer: -> (readout (B, H'), new state, attn | None).

        Training runs ``advance`` per token and ``log_probs`` once over all tokens
        (one large matrix product instead of T small ones). With ``attention_override``
        (B, heads, S) the step runs the reference math with those weights.
        """
        if attention_override is not None:
            override = self._checked_override(attention_override, memory)
            return self._reference_advance(prev_tokens, state, memory, override)
        fast = self._fast()
        if fast is not None:
            return fast.advance(self, prev_tokens, state, memory)
        return self._reference_advance(prev_tokens, state, memory)

    def _checked_override(self, override: Tensor, memory: EncoderMemory) -> Tensor:
        """``override`` validated and normalised (check_override); ValueError without attention."""
        if self.num_heads == 0:
            raise ValueError(
                "this model has no attention (its decoder reads only the encoder's summary); "
                "there are no attention weights to edit"
            )
        if isinstance(override, Tensor) and override.is_floating_point():
            override = override.to(device=memory.values.device, dtype=memory.values.dtype)
        return check_override(override, memory.mask, self.num_heads)

    def log_probs(self, readout: Tensor) -> Tensor:
        """The output layer: readout (..., H') -> log-probs (..., V)."""
        fast = self._fast()
        return self.output(readout) if fast is None else fast.log_probs(self.output, readout)

    def _reference_advance(self, prev_tokens: Tensor, state: DecoderState, memory, override=None):
        raise NotImplementedError

    def _embed(self, tokens: Tensor) -> Tensor:
        """(B,) token ids -> (B, E), dropout while training."""
        return self.dropout(self.embedding(tokens))

    def _initial_hidden(self, memory: EncoderMemory) -> tuple[Tensor, Tensor | None]:
        """(L, B, H) hidden and the LSTM cell (None for a GRU), per ``config.init_from``:
        tanh(W·final) in every layer and a zero cell, or the encoder's final states."""
        if self.config.init_from != "summary":
            return self._hidden_from_final_states(memory)
        h0 = torch.tanh(self.bridge(memory.final))  # (B, H)
        hidden = h0.unsqueeze(0).repeat(self.config.layers, 1, 1).contiguous()
        cell = torch.zeros_like(hidden) if self.config.cell == "lstm" else None
        return hidden, cell

    def _hidden_from_final_states(self, memory: EncoderMemory) -> tuple[Tensor, Tensor | None]:
        """The encoder's last state of each layer, directions side by side: (L, B, H) each.

        With ``final_states_bridge`` each state kind first goes through ReLU(W s + b) over
        rows of (layers·H/dirs) values taken in the RNN's own order, as OpenNMT-py does.
        """
        states = memory.final_states  # each (B, L·dirs, H/dirs)
        if states is None:
            raise ValueError(
                f"decoder init {self.config.init_from!r} needs an RNN encoder's final states"
            )
        if self.config.init_from == "final_states_bridge":
            states = tuple(
                torch.relu(bridge(state.reshape(-1, bridge.in_features))).view_as(state)
                for bridge, state in zip(self.state_bridge, states, strict=True)
            )
        layers = self.config.layers
        layered = [s.reshape(s.size(0), layers, -1).transpose(0, 1).contiguous() for s in states]
        return layered[0], (layered[1] if self.config.cell == "lstm" else None)  # (L, B, H)

    def _refresh_rnn_weights(self) -> None:
        """Re-read the RNN's weight list if its parameters were replaced (once per decode:
        the fast step reads ``rnn._flat_weights`` without the module's per-call check)."""
        if self.rnn._weights_have_changed():
            self.rnn._init_flat_weights()

    def _run_cell(
        self, inputs: Tensor, state: DecoderState
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One RNN time step: inputs (B, I) -> output (B, H), hidden (L, B, H), cell."""
        rnn_state = state.hidden if state.cell is None else (state.hidden, state.cell)
        output, new = self.rnn(inputs.unsqueeze(1), rnn_state)  # output (B, 1, H)
        if state.cell is None:
            return output.squeeze(1), new, None
        return output.squeeze(1), new[0], new[1]


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
        encoder_directions: int = 1,
    ) -> None:
        context = attention.context_size
        input_size = embedding.embedding_dim
        input_size += context if config.placement == "bahdanau" else 0
        input_size += config.hidden if config.input_feed else 0
        super().__init__(
            embedding,
            config,
            input_size=input_size,
            encoder_size=encoder_size,
            encoder_directions=encoder_directions,
        )
        self.attention = attention
        self.combine = nn.Linear(config.hidden + context, config.hidden)
        self.output = OutputLayer(config.hidden, embedding, tie=tie_output)

    @property
    def num_heads(self) -> int:
        return self.attention.heads

    def precompute(self, memory: EncoderMemory) -> EncoderMemory:
        """Attach the attention's per-source projection (once per input)."""
        source = memory.values if memory.key_source is None else memory.key_source
        return replace(memory, keys=self.attention.precompute(source))

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        self._refresh_rnn_weights()
        hidden, cell = self._initial_hidden(memory)
        batch, length = memory.mask.shape
        feed = hidden.new_zeros(batch, self.config.hidden) if self.config.input_feed else None
        zeros = hidden.new_zeros(batch, self.attention.heads, length)
        return DecoderState(hidden=hidden, cell=cell, feed=feed, alignment=zeros, cumulative=zeros)

    def _reference_advance(self, prev_tokens: Tensor, state: DecoderState, memory, override=None):
        """-> (readout h̃ (B, H), new state, attn (B, heads, S)); ``override`` (checked)
        replaces the attention's weights."""
        readout, new_state, weights, _ = self.scored_advance(prev_tokens, state, memory, override)
        return readout, new_state, weights

    def scored_advance(
        self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory, override=None
    ) -> tuple[Tensor, DecoderState, Tensor, Tensor]:
        """The reference step that also hands out the raw attention scores:
        -> (readout h̃ (B, H), new state, attn (B, heads, S), scores (B, heads, S)).

        The scores are the model's own pre-softmax scores (padding not masked), also
        when ``override`` (checked, see ``check_override``) replaces the weights.
        """
        embedded = self._embed(prev_tokens)  # (B, E)
        feed = [state.feed] if self.config.input_feed else []  # h̃_{t-1}: (B, H)
        if self.config.placement == "bahdanau":
            context, weights, scores = self._attend(state.hidden[-1], memory, state, override)
            inputs = torch.cat([embedded, context, *feed], -1)  # (B, E + C [+ H])
            output, hidden, cell = self._run_cell(inputs, state)  # h_t: (B, H)
        else:
            inputs = torch.cat([embedded, *feed], -1)  # (B, E [+ H])
            output, hidden, cell = self._run_cell(inputs, state)  # h_t: (B, H)
            context, weights, scores = self._attend(output, memory, state, override)
        combined = torch.cat([output, context], -1)  # (B, H + C)
        attentional = self.combine(combined)  # W [h_t; c_t] + b: (B, H)
        if self.config.combine_activation == "tanh":
            attentional = torch.tanh(attentional)  # h̃_t: (B, H)
        new_state = DecoderState(
            hidden=hidden,
            cell=cell,
            feed=attentional if self.config.input_feed else None,
            alignment=weights,
            cumulative=state.cumulative + weights,
        )
        return self.dropout(attentional), new_state, weights, scores

    def _attend(self, query: Tensor, memory: EncoderMemory, state: DecoderState, override):
        """-> context (B, C), weights (B, heads, S), raw scores (B, heads, S)."""
        scores = self.attention.scores(query, memory, state)  # (B, heads, S)
        weights = masked_softmax(scores, memory.mask) if override is None else override
        return self.attention.context(weights, memory), weights, scores


class PlainDecoder(_RecurrentDecoderBase):
    """No attention: every step sees only the encoder's final summary (Cho et al. 2014)."""

    num_heads = 0

    def __init__(
        self,
        embedding: nn.Embedding,
        config: DecoderConfig,
        *,
        encoder_size: int,
        tie_output: bool,
        encoder_directions: int = 1,
    ) -> None:
        input_size = embedding.embedding_dim + encoder_size
        super().__init__(
            embedding,
            config,
            input_size=input_size,
            encoder_size=encoder_size,
            encoder_directions=encoder_directions,
        )
        self.output = OutputLayer(config.hidden + encoder_size, embedding, tie=tie_output)

    def precompute(self, memory: EncoderMemory) -> EncoderMemory:
        return memory

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        self._refresh_rnn_weights()
        hidden, cell = self._initial_hidden(memory)
        return DecoderState(hidden=hidden, cell=cell)

    def _reference_advance(self, prev_tokens: Tensor, state: DecoderState, memory, override=None):
        """-> (readout (B, H + H_enc), new state, None)."""
        embedded = self._embed(prev_tokens)  # (B, E)
        inputs = torch.cat([embedded, memory.final], -1)  # (B, E + H_enc)
        output, hidden, cell = self._run_cell(inputs, state)  # (B, H)
        readout = self.dropout(torch.cat([output, memory.final], -1))  # (B, H + H_enc)
        return readout, DecoderState(hidden=hidden, cell=cell), None


def build_decoder(
    config: ModelConfig, embedding: nn.Embedding, *, encoder_size: int, max_positions: int
) -> nn.Module:
    """The decoder for ``config``: PlainDecoder for attention "none", else AttentionDecoder."""
    text = config.text_encoder
    directions = 2 if config.task == "translation" and text.bidirectional else 1
    if config.attention.kind == "none":
        return PlainDecoder(
            embedding,
            config.decoder,
            encoder_size=encoder_size,
            tie_output=config.tie_output,
            encoder_directions=directions,
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
        encoder_directions=directions,
    )
