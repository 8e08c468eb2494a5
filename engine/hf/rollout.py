"""The source-token mixing matrix of a Hugging Face Transformer encoder, for rollout.

``HfStepModel.encode_with_attention`` returns the encoder's self-attention of every
layer from the pass that builds the memory (the model is loaded with eager attention,
so the weights exist anyway); ``source_mixing`` rolls them out
(engine/attention_layers.py ``encoder_rollout``, Abnar & Zuidema 2020). A session
computes it once per source when it opens and hands it to its snapshots as
``SessionSnapshot.source_mixing``; batch translation never pays for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.attention_layers import encoder_rollout


def encoder_self_attention(attentions: Sequence[Tensor], attention_mask: Tensor) -> Tensor:
    """One input's encoder self-attention, each layer (1, heads, S, S) first layer first,
    and its (1, S) 0/1 mask -> (layers, heads, S_real, S_real) float32 on the CPU, the
    padding cut off."""
    if attention_mask.dim() != 2 or attention_mask.size(0) != 1:
        raise ValueError(f"source_mixing takes one input (1, S), got {tuple(attention_mask.shape)}")
    if not attentions:
        raise ValueError("this encoder returned no attention weights (not loaded eager?)")
    real = attention_mask[0].bool()
    stacked = torch.stack([a[0] for a in attentions])  # (layers, heads, S, S)
    return stacked[:, :, real][:, :, :, real].float().cpu()


def source_mixing(attentions: Sequence[Tensor], attention_mask: Tensor) -> np.ndarray:
    """(S_real, S_real) float32 rollout of one input's encoder self-attention: row i is
    how much each source token makes up encoder output i (rows sum to 1)."""
    return encoder_rollout(encoder_self_attention(attentions, attention_mask).numpy())
