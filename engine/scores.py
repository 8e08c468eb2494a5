"""Raw pre-softmax attention scores of a decoded hypothesis, for the alternative heat map.

The weights a view shows are a softmax of these scores; the scores themselves say how
strongly the model preferred each source position before normalisation (additive
energies vᵀ tanh(…), Luong dot products qᵀh or qᵀWh, location scores Wq, per-head
scaled dot products). They are recomputed teacher-forced over the hypothesis's tokens
(one reference pass, a few milliseconds), replaying its attention edits, so step t's
scores are those the model computed for token t.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from attnscope.engine.decoding.config import BOS_ID
from attnscope.engine.decoding.step_model import StepMemory, StepModel
from attnscope.engine.interventions import AttentionEdit


def attention_scores(
    model: StepModel,
    memory: StepMemory,
    tokens: Sequence[int],
    edits: Sequence[AttentionEdit] = (),
) -> np.ndarray:
    """(T, heads, S) float32 raw scores of ``tokens`` (T ids, bos not included) decoded
    from ``memory`` (batch 1).

    Padding positions are -inf (a batch-1 memory has none), so ``softmax`` over the
    last axis gives the attention weights. ``edits`` are the attention edits the decode
    took: at their steps the edited weights make the context (the scores there are the
    model's own), so later steps follow the edited decode. A model without attention
    gives (T, 0, S); one without ``attention_scores`` (e.g. a scripted stand-in) raises
    ValueError.
    """
    if memory.mask.size(0) != 1:
        raise ValueError(
            f"attention scores are for one input, got a batch of {memory.mask.size(0)}"
        )
    length = int(memory.mask.size(1))
    if model.num_heads == 0:
        return np.zeros((len(tokens), 0, length), dtype=np.float32)
    scorer = getattr(model, "attention_scores", None)
    if scorer is None:
        raise ValueError(f"{type(model).__name__} does not give raw attention scores")
    device = memory.mask.device
    tgt_in = torch.tensor([[BOS_ID, *tokens[:-1]]] if tokens else [[]], dtype=torch.long)
    overrides = {
        edit.step: torch.from_numpy(np.array(edit.weights)).unsqueeze(0).to(device)
        for edit in edits
        if edit.step < len(tokens)
    }
    with torch.inference_mode():
        scores = scorer(memory, tgt_in.to(device), overrides)  # (1, T, heads, S)
    return scores[0].float().cpu().numpy()


__all__ = ["attention_scores"]
