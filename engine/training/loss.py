"""Token-level training loss: label-smoothed NLL over log-probabilities, pads ignored."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SequenceLoss:
    """Sums over the real (non-pad) target tokens of a batch.

    loss:     label-smoothed loss summed over tokens (what is optimised, after
              dividing by ``tokens``)
    nll:      plain negative log-likelihood summed over tokens (for perplexity)
    tokens:   number of real target tokens
    """

    loss: Tensor
    nll: Tensor
    tokens: int


def sequence_loss(
    log_probs: Tensor, target: Tensor, *, pad_id: int = 0, label_smoothing: float = 0.0
) -> SequenceLoss:
    """log_probs (B, T, V) log-softmaxed, target (B, T) ids -> summed losses.

    Label smoothing spreads ``label_smoothing`` of the probability mass
    uniformly over the vocabulary: loss = (1 - e)·NLL + e·mean_v(-log p_v).
    """
    mask = target.ne(pad_id)  # (B, T)
    nll = -log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
    nll = nll.masked_fill(~mask, 0.0)
    nll_sum = nll.sum()
    if label_smoothing > 0:
        uniform = -log_probs.mean(dim=-1).masked_fill(~mask, 0.0)  # (B, T)
        loss = (1.0 - label_smoothing) * nll_sum + label_smoothing * uniform.sum()
    else:
        loss = nll_sum
    return SequenceLoss(loss=loss, nll=nll_sum, tokens=int(mask.sum()))


def pad_sequences(
    sequences: list[list[int]],
    *,
    pad_id: int = 0,
    prefix: int | None = None,
    suffix: int | None = None,
) -> Tensor:
    """Token lists -> (B, T) long tensor padded with ``pad_id``, optional bos/eos added."""
    rows = [
        ([prefix] if prefix is not None else [])
        + list(seq)
        + ([suffix] if suffix is not None else [])
        for seq in sequences
    ]
    longest = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(longest, 1)), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out
