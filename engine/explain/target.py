"""The function an attribution explains: input -> the target value of every step.

``TargetFunction`` runs the model teacher-forced on the tokens shown, from a batch of
inputs (N rows), and returns the target value of a step: log p(token_t), or with a
foil log p(token_t) - log p(foil); every step of every row (``values``), or each row's
own step (``values_at``). The input is what the attribution is taken over:

- text: the source embedding output (N, S, E), fed to the encoder in place of its
  embedding lookup (a forward hook scoped to the encode call, so a decoder sharing
  the embedding matrix still embeds its own tokens);
- a picture: the normalised model input (N, 3, H, W).

Every row is independent (eval mode: dropout off, batch norm on running stats), so
the gradient of the sum of the rows' values gives each row's own gradient: a batch of
copies of the input, one per step explained (and per integration point), takes one
forward and one backward for all of them. The attention
edits of the decode are replayed at their steps, as engine/scores.py does.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import torch
from torch import Tensor

from attnscope.engine.decoding.config import BOS_ID
from attnscope.engine.interventions import AttentionEdit

# What a row keeps for its backward, per decoded step and source position, in decoder
# widths: measured (saved-tensor hooks, 20 x 20 tokens) 2.4 on the de->en model, 3.6 on
# the multi-head one, 0.9 on the zh->en CNN one.
SAVED_PER_STEP_AND_POSITION = 3
# A CNN trunk keeps this many float32 values per input value for its backward: measured
# 151 for MobileNetV2 at 224x224 (its weights included), 36 for the shapes model's small CNN.
TRUNK_ACTIVATIONS_PER_INPUT_VALUE = 160
# Without a backward a trunk holds about two consecutive maps: MobileNetV2's widest at
# 224x224 (96 x 112 x 112) is 8 input sizes.
TRUNK_LIVE_PER_INPUT_VALUE = 16


@contextmanager
def embeddings_replaced(embedding: torch.nn.Module, replacement: Tensor):
    """Inside the block, ``embedding(...)`` returns ``replacement`` (same shape as its own
    output) instead of looking the ids up; the hook is gone when the block ends."""

    def swap(_module, _inputs, output: Tensor) -> Tensor:
        if output.shape != replacement.shape:
            raise ValueError(
                f"replacement embeddings have shape {tuple(replacement.shape)}, "
                f"the encoder embeds {tuple(output.shape)}"
            )
        return replacement

    handle = embedding.register_forward_hook(swap)
    try:
        yield
    finally:
        handle.remove()


class TargetFunction:
    """The target values of ``tokens`` for a batch of inputs.

    model:  the EncoderDecoder (eval mode) on its device
    source: text only: the source ids (1, S) long; None for a picture
    tokens: the teacher-forced targets (T ids, bos not included); only steps
            ``0 .. len(tokens) - 1`` are run
    foil:   an id whose log-prob is subtracted at every step, or None
    edits:  AttentionEdit replayed at their steps (steps past the tokens are ignored)
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        source: Tensor | None,
        tokens: Sequence[int],
        foil: int | None = None,
        edits: Sequence[AttentionEdit] = (),
    ) -> None:
        self.model = model
        self.source = source
        self.device = next(model.parameters()).device
        self.tokens = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)  # (1, T)
        self.tgt_in = torch.tensor([[BOS_ID, *tokens[:-1]]], dtype=torch.long, device=self.device)
        self.foil = foil
        self.edits = {
            edit.step: torch.tensor(edit.weights, device=self.device)  # (heads, S), a copy
            for edit in edits
            if edit.step < len(tokens)
        }
        self.grid: tuple[int, int] | None = None  # an image encoder's (h, w), after a call

    @property
    def steps(self) -> int:
        return int(self.tokens.size(1))

    def saved_per_row(self, inputs: Tensor, *, positions: int, explained: int) -> int:
        """Float values one input row keeps for its backward (methods.rows_per_batch):
        every step's attention work over ``positions`` source positions or grid cells,
        the log-probs of the ``explained`` steps it keeps, a picture's trunk."""
        config = self.model.config
        per_step = positions * SAVED_PER_STEP_AND_POSITION * config.decoder.hidden
        per_row = self.steps * per_step + explained * config.tgt_vocab
        if self.source is None:
            per_row += inputs[0].numel() * TRUNK_ACTIVATIONS_PER_INPUT_VALUE
        return per_row

    def live_per_row(self, inputs: Tensor, *, positions: int) -> int:
        """Float values one row holds at once without a backward (methods.occlusion_rows):
        one step's attention energies (and one trunk layer's maps), every step's log-probs."""
        config = self.model.config
        per_row = positions * SAVED_PER_STEP_AND_POSITION * config.decoder.hidden
        per_row += self.steps * config.tgt_vocab
        if self.source is None:
            per_row += inputs[0].numel() * TRUNK_LIVE_PER_INPUT_VALUE
        return per_row

    def encode(self, inputs: Tensor):
        """The encoder memory of a batch of inputs (text: embeddings; picture: pixels)."""
        if self.source is None:
            memory = self.model.encode(inputs)  # (N, 3, H, W) -> grid memory
            self.grid = memory.grid
            return memory
        rows = inputs.size(0)
        src = self.source.expand(rows, -1)  # (N, S)
        lengths = torch.full((rows,), src.size(1), dtype=torch.long, device=self.device)
        with embeddings_replaced(self.model.encoder.embedding, inputs):
            return self.model.encode(src, lengths)

    def readouts(self, inputs: Tensor, upto: int) -> Tensor:
        """inputs (N, ...) -> (N, upto, H') decoder readouts of steps 0 .. upto - 1."""
        return torch.stack(self._readout_list(inputs, upto), dim=1)

    def _readout_list(self, inputs: Tensor, upto: int, check=None) -> list[Tensor]:
        """The readouts of steps 0 .. upto - 1, each (N, H'), kept apart (see
        ``values_of_steps``). ``check()`` runs before every decoder step (a cancel check that raises)."""
        memory = self.encode(inputs)
        rows = inputs.size(0)
        state = self.model.init_state(memory)
        readouts = []
        for t in range(upto):
            if check is not None:
                check()
            prev = self.tgt_in[:, t].expand(rows)  # (N,)
            override = self.edits.get(t)
            if override is not None:
                override = override.to(memory.values.dtype).expand(rows, -1, -1)  # (N, heads, S)
            readout, state, _ = self.model.decoder.advance(prev, state, memory, override)
            readouts.append(readout)
        return readouts

    def _targets(self, log_probs: Tensor, tokens: Tensor) -> Tensor:
        """log_probs (..., V), tokens (...) -> (...) log p(token) [- log p(foil)]."""
        chosen = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return chosen if self.foil is None else chosen - log_probs[..., self.foil]

    def values(self, inputs: Tensor) -> Tensor:
        """inputs (N, ...) -> (N, T) target values of every step."""
        readouts = self.readouts(inputs, self.steps)
        log_probs = self.model.decoder.log_probs(readouts)  # (N, T, V), one GEMM
        return self._targets(log_probs, self.tokens.expand(inputs.size(0), -1))

    def values_of_steps(self, inputs: Tensor, steps: Sequence[int], check=None) -> list[Tensor]:
        """inputs (N, ...), steps ascending -> per step, (N,) every row's target there.

        The decoder runs to the last step; the output layer only on the steps given. The
        steps' values stay apart (a stack would send every step a gradient, zeros
        included, so a backward from one step would run through all of them)."""
        readouts = self._readout_list(inputs, steps[-1] + 1, check)  # T' x (N, H')
        rows = inputs.size(0)
        return [
            self._targets(self.model.decoder.log_probs(readouts[t]), self.tokens[:, t].expand(rows))
            for t in steps
        ]

    def values_at(self, inputs: Tensor, steps: Tensor, check=None) -> Tensor:
        """inputs (N, ...), steps (N,) long ascending -> (N,): row i's target at ``steps[i]``.

        ``check()`` runs before every decoder step (a cancel check that raises).

        A row leaves the batch once its step is decoded (the rows still running are a
        suffix, as the steps ascend), and the output layer runs only on the rows' own
        steps (the vocabulary projection is most of a step's cost).
        """
        if bool((steps[1:] < steps[:-1]).any()):
            raise ValueError("values_at takes the rows' steps in ascending order")
        memory = self.encode(inputs)
        state = self.model.init_state(memory)
        finished_after = torch.searchsorted(steps, torch.arange(int(steps[-1]) + 1), right=True)
        picked, first = [], 0  # rows first.. are still running
        for t, finished in enumerate(finished_after.tolist()):
            if check is not None:
                check()
            running = inputs.size(0) - first
            override = self.edits.get(t)
            if override is not None:
                override = override.to(memory.values.dtype).expand(running, -1, -1)
            prev = self.tgt_in[:, t].expand(running)  # (N',)
            readout, state, _ = self.model.decoder.advance(prev, state, memory, override)
            if finished > first:  # rows first .. finished - 1 explain step t
                picked.append(readout[: finished - first])
                keep = torch.arange(finished - first, running, device=self.device)
                state, memory = state.index_select(keep), memory.index_select(keep)
                first = finished
        log_probs = self.model.decoder.log_probs(torch.cat(picked))  # (N, V)
        return self._targets(log_probs, self.tokens[0, steps])
