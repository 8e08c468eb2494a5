"""The target function of an attribution on a Hugging Face encoder–decoder.

``HfTargetFunction`` has ``TargetFunction``'s interface (engine/explain/target.py:
``values``, ``values_at``, ``values_of_steps``, ``steps``, ``source``, ``grid``,
``saved_per_row``, ``live_per_row``), so every method of engine/explain/methods.py runs
on it unchanged. What differs:

- The input is the source embeddings **as the encoder reads them**, (N, S, D), fed as
  ``inputs_embeds``: the token embeddings times the family's embedding scale (Marian
  multiplies by sqrt(d_model) inside its encoder, BART/mBART/M2M100 inside their
  scaled embedding module, T5 not at all), before the positions are added.
  ``encoder_input`` computes them and checks, with one encoder pass, that the encoder
  fed them gives what it gives from the ids; a family where it does not is refused
  rather than attributed on some other input.
- The decoder runs teacher-forced over the whole output in one forward (its causal
  mask keeps step t from seeing later tokens), giving every step's logits at once;
  ``values_of_steps`` and ``values_at`` take their steps from that forward.
- Attention edits of the decode are replayed at their steps on every decoder layer's
  cross-attention (engine/hf/what_if.py).
- The "pad" baseline (integrated gradients' start, occlusion's fill) is the pad
  token's embedding, scaled the same way, at every position; the attention mask stays
  1 everywhere, so an occluded position is a pad token the encoder still reads, not a
  position removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.hf.what_if import cross_attention_edited
from attnscope.engine.interventions import AttentionEdit

EMBEDDING_TOLERANCE = 1e-4  # encoder output from ids vs from our embeddings, absolute
# What a row keeps for its backward, in model widths per (position x layer it passes):
# a random Marian-base-sized model (d_model 512, 6+6 layers, vocabulary 58101),
# saved-tensor hooks without the weights, S x T = 20 x 20 tokens: 4.08M floats a row;
# 20 x 40: 6.76M; 40 x 20: 5.58M. 12 per width over S·(encoder + decoder layers) +
# T·decoder layers, plus two (T, V) tensors (logits, log-probs), is above all three
# by at most 13 %.
SAVED_PER_WIDTH = 12


def encoder_input(loaded: Any, ids: Tensor) -> Tensor:
    """(1, S) model source ids -> (1, S, D): the embeddings the encoder reads for them.

    ValueError when the encoder given these as ``inputs_embeds`` does not reproduce its
    own output from ``ids`` (a family that scales or mixes its embeddings some other
    way): an attribution on them would explain another input."""
    encoder = loaded.model.get_encoder()
    values = _scaled_embeddings(encoder, ids)  # (1, S, D)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        own = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        ours = encoder(inputs_embeds=values, attention_mask=mask).last_hidden_state
    gap = float((own - ours).abs().max())
    if not gap <= EMBEDDING_TOLERANCE:
        raise ValueError(
            f"{type(loaded.model).__name__}'s encoder does not read its token embeddings "
            f"as AttnScope computes them (outputs differ by {gap:.3g}); attribution refused"
        )
    return values


def _scaled_embeddings(encoder: Any, ids: Tensor) -> Tensor:
    """(N, S) ids -> (N, S, D) token embeddings times the family's scale (Marian keeps
    it on the encoder; BART-like families inside ``embed_tokens``)."""
    with torch.no_grad():
        return encoder.embed_tokens(ids) * getattr(encoder, "embed_scale", 1.0)


def pad_embeddings(loaded: Any, ids: Tensor) -> Tensor:
    """(1, S, D) the pad token's embedding, scaled as ``encoder_input``'s, at every
    position of ``ids``; ValueError when the model has no pad token. (Not checked
    against the encoder fed pad ids: M2M100 numbers positions past pads differently,
    while the baseline is a point on the path of the embeddings the encoder reads.)"""
    pad = getattr(loaded.model.config, "pad_token_id", None)
    if not isinstance(pad, int):
        raise ValueError(f"{type(loaded.model).__name__} has no pad token for the baseline")
    return _scaled_embeddings(loaded.model.get_encoder(), torch.full_like(ids, pad))


class HfTargetFunction:
    """The target values of ``tokens`` for a batch of source embeddings (see the module
    docstring).

    loaded: the opened folder (engine/hf/loading.py LoadedHfModel), eval mode
    source: the source's model ids (1, S) long
    tokens: the teacher-forced targets in AttnScope ids (T, bos not included)
    foil:   an AttnScope id whose log-prob is subtracted at every step, or None
    edits:  AttentionEdit with (layers · heads, S) weights, replayed at their steps
    """

    grid = None  # text only

    def __init__(
        self,
        loaded: Any,
        *,
        source: Tensor,
        tokens: Sequence[int],
        foil: int | None = None,
        edits: Sequence[AttentionEdit] = (),
    ) -> None:
        self.model = loaded.model
        self.step_model = loaded.step_model
        self.source = source
        self.device = source.device
        self.vocab = loaded.vocab.to(self.device)
        self.tokens = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)  # (1, T)
        start = torch.tensor([[self.step_model.start_token]], device=self.device)
        fed = self.vocab.to_hf[self.tokens[:, :-1]]  # (1, T - 1) model ids
        self.decoder_in = torch.cat([start, fed], dim=1)  # (1, T)
        self.foil = foil
        self.edits = self._edit_weights([e for e in edits if e.step < len(tokens)])
        config = self.model.config
        self._width = int(config.d_model)
        self._encoder_layers = int(
            getattr(config, "encoder_layers", None) or getattr(config, "num_layers", 1)
        )

    @property
    def steps(self) -> int:
        return int(self.tokens.size(1))

    def saved_per_row(self, inputs: Tensor, *, positions: int, explained: int) -> int:
        """Float values one row keeps for its backward (see SAVED_PER_WIDTH); every step's
        log-probs are kept whatever ``explained`` is (one forward makes them all)."""
        decoder = self.step_model.num_layers
        passes = positions * (self._encoder_layers + decoder) + self.steps * decoder
        vocab = self.model.get_output_embeddings().out_features
        return SAVED_PER_WIDTH * self._width * passes + 2 * self.steps * vocab

    def live_per_row(self, inputs: Tensor, *, positions: int) -> int:
        """Without a backward a row holds less than it keeps for one: the same bound."""
        return self.saved_per_row(inputs, positions=positions, explained=self.steps)

    def _edit_weights(self, edits: list[AttentionEdit]) -> tuple[Tensor, Tensor] | None:
        """The edits as cross_attention_edited takes them: ((1, L, H, T, S), (T,) bool)."""
        if not edits:
            return None
        layers, per_layer = self.step_model.num_layers, self.step_model.heads_per_layer
        length = self.source.size(1)
        weights = torch.zeros(1, layers, per_layer, self.steps, length, device=self.device)
        edited = torch.zeros(self.steps, dtype=torch.bool, device=self.device)
        for edit in edits:
            rows = torch.tensor(edit.weights, device=self.device)  # (L·H, S), a copy
            if tuple(rows.shape) != (layers * per_layer, length):
                raise ValueError(
                    f"the attention edit of step {edit.step} is {tuple(rows.shape)}; this "
                    f"model attends with {layers * per_layer} rows over {length} positions"
                )
            rows = rows / rows.sum(dim=-1, keepdim=True)
            weights[0, :, :, edit.step] = rows.view(layers, per_layer, length)
            edited[edit.step] = True
        return weights, edited

    def log_probs(self, inputs: Tensor, upto: int) -> Tensor:
        """inputs (N, S, D) -> (N, upto, V) log-probs of steps 0 .. upto - 1, AttnScope ids."""
        from transformers.modeling_outputs import BaseModelOutput

        rows = inputs.size(0)
        mask = torch.ones(rows, inputs.size(1), dtype=torch.long, device=self.device)
        encoded = self.model.get_encoder()(inputs_embeds=inputs, attention_mask=mask)
        decoder_in = self.decoder_in[:, :upto].expand(rows, -1)  # (N, upto)
        forward = {
            "encoder_outputs": BaseModelOutput(last_hidden_state=encoded.last_hidden_state),
            "attention_mask": mask,
            "decoder_input_ids": decoder_in,
            "use_cache": False,
            "return_dict": True,
        }
        if self.edits is None:
            logits = self.model(**forward).logits
        else:
            weights, edited = self.edits
            with cross_attention_edited(self.model, weights[..., :upto, :], edited[:upto]):
                logits = self.model(**forward).logits  # (N, upto, V model ids)
        return logits.float().log_softmax(dim=-1).index_select(-1, self.vocab.to_hf)

    def _targets(self, log_probs: Tensor, tokens: Tensor) -> Tensor:
        """log_probs (..., V), tokens (...) -> (...) log p(token) [- log p(foil)]."""
        chosen = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        return chosen if self.foil is None else chosen - log_probs[..., self.foil]

    def values(self, inputs: Tensor) -> Tensor:
        """inputs (N, S, D) -> (N, T) target values of every step."""
        log_probs = self.log_probs(inputs, self.steps)
        return self._targets(log_probs, self.tokens.expand(inputs.size(0), -1))

    def values_of_steps(self, inputs: Tensor, steps: Sequence[int], check=None) -> list[Tensor]:
        """inputs (N, S, D), steps ascending -> per step, (N,) every row's target there
        (one forward to the last step; each step's value its own graph output)."""
        if check is not None:
            check()
        log_probs = self.log_probs(inputs, steps[-1] + 1)  # (N, T', V)
        rows = inputs.size(0)
        return [self._targets(log_probs[:, t], self.tokens[:, t].expand(rows)) for t in steps]

    def values_at(self, inputs: Tensor, steps: Tensor, check=None) -> Tensor:
        """inputs (N, S, D), steps (N,) long -> (N,): row i's target at ``steps[i]``."""
        if check is not None:
            check()
        log_probs = self.log_probs(inputs, int(steps.max()) + 1)  # (N, T', V)
        rows = torch.arange(inputs.size(0), device=self.device)
        return self._targets(log_probs[rows, steps], self.tokens[0, steps])
