"""The part both wrappers share: stepping, the teacher-forced forward built on it, and the
raw attention scores of a given output."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from attnscope.models.config import ModelConfig
from attnscope.models.state import DecoderState, EncoderMemory


class EncoderDecoder(nn.Module):
    """Base for TranslationModel and CaptioningModel.

    Subclasses provide ``self.decoder`` and ``encode(...) -> EncoderMemory``
    (with the attention keys attached by ``decoder.precompute``).
    """

    config: ModelConfig
    decoder: nn.Module
    # ``step`` takes ``attention_override`` (see models/decoders.py); the engine asks this
    # before sending a what-if edit to a step model.
    accepts_attention_override = True

    @property
    def num_heads(self) -> int:
        """Attention heads per step (0 for the no-attention decoder)."""
        return self.decoder.num_heads

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        return self.decoder.init_state(memory)

    def step(
        self,
        prev_tokens: Tensor,
        state: DecoderState,
        memory: EncoderMemory,
        attention_override: Tensor | None = None,
    ):
        """(B,) tokens -> (log_probs (B, V), new state, attn (B, heads, S) | None).

        attention_override: (B, heads, S) weights to use instead of the model's own at
        this step (finite, >= 0, 0 on padding; rows are normalised); ValueError when
        they do not fit or the model has no attention.
        """
        return self.decoder.step(prev_tokens, state, memory, attention_override)

    def reorder(self, state: DecoderState, index: Tensor) -> DecoderState:
        """The state of rows ``index`` (N',) long, in that order (beam search, finished rows)."""
        return state.index_select(index)

    def decode_teacher_forced(
        self,
        memory: EncoderMemory,
        tgt_in: Tensor,
        *,
        teacher_forcing: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Run the step over tgt_in (B, T) -> log_probs (B, T, V), attn (B, T, heads, S).

        With ``teacher_forcing`` < 1, each step feeds the model's own previous
        argmax instead of the reference with probability 1 - teacher_forcing.
        """
        if teacher_forcing < 1.0:
            return self._decode_with_own_predictions(memory, tgt_in, teacher_forcing, generator)
        state = self.init_state(memory)
        readouts, all_attn = [], []
        for t in range(tgt_in.size(1)):
            readout, state, attn = self.decoder.advance(tgt_in[:, t], state, memory)
            readouts.append(readout)
            if attn is not None:
                all_attn.append(attn)
        log_probs = self.decoder.log_probs(torch.stack(readouts, dim=1))  # (B, T, V), one GEMM
        attn_out = torch.stack(all_attn, dim=1) if all_attn else None
        return log_probs, attn_out

    def attention_scores(
        self,
        memory: EncoderMemory,
        tgt_in: Tensor,
        overrides: Mapping[int, Tensor] | None = None,
    ) -> Tensor:
        """Raw pre-softmax attention scores, teacher-forced over tgt_in (B, T) -> (B, T, heads, S).

        Step t feeds tgt_in[:, t] (bos first) and scores the memory for the token it
        predicts. Padding positions are -inf, so a softmax over the last dim gives the
        attention weights. ``overrides`` {step: (B, heads, S)} replays what-if edits: at
        those steps the edited weights make the context (the scores are still the
        model's own), so later steps follow the edited decode. Runs the reference math;
        ValueError for a model without attention.
        """
        if self.num_heads == 0:
            raise ValueError("this model has no attention, so it has no attention scores")
        overrides = overrides or {}
        batch, length = memory.mask.shape
        if tgt_in.size(1) == 0:
            return memory.values.new_empty(batch, 0, self.num_heads, length)
        state = self.init_state(memory)
        all_scores = []
        for t in range(tgt_in.size(1)):
            override = overrides.get(t)
            if override is not None:
                override = self.decoder._checked_override(override, memory)
            _, state, _, scores = self.decoder.scored_advance(tgt_in[:, t], state, memory, override)
            all_scores.append(scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf")))
        return torch.stack(all_scores, dim=1)  # (B, T, heads, S)

    def _decode_with_own_predictions(self, memory, tgt_in, teacher_forcing, generator):
        """Scheduled sampling: the output layer must run per step to pick the argmax."""
        state = self.init_state(memory)
        all_log_probs, all_attn = [], []
        prev = tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            log_probs, state, attn = self.step(prev, state, memory)
            all_log_probs.append(log_probs)
            if attn is not None:
                all_attn.append(attn)
            if t + 1 < tgt_in.size(1):
                prev = tgt_in[:, t + 1]
                use_model = torch.rand(prev.shape, generator=generator) >= teacher_forcing
                prev = torch.where(use_model.to(prev.device), log_probs.argmax(-1), prev)
        attn_out = torch.stack(all_attn, dim=1) if all_attn else None
        return torch.stack(all_log_probs, dim=1), attn_out
