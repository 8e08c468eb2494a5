"""The part both wrappers share: stepping and the teacher-forced forward built on it."""

from __future__ import annotations

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

    @property
    def num_heads(self) -> int:
        """Attention heads per step (0 for the no-attention decoder)."""
        return self.decoder.num_heads

    def init_state(self, memory: EncoderMemory) -> DecoderState:
        return self.decoder.init_state(memory)

    def step(self, prev_tokens: Tensor, state: DecoderState, memory: EncoderMemory):
        """(B,) tokens -> (log_probs (B, V), new state, attn (B, heads, S) | None)."""
        return self.decoder.step(prev_tokens, state, memory)

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
