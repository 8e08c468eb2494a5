"""The source-token mixing matrix of a Hugging Face Transformer encoder, for rollout.

``source_mixing`` runs the encoder once more with ``output_attentions=True`` (the model
is loaded with eager attention, so the weights exist) and rolls its self-attention out
(engine/attention_layers.py ``encoder_rollout``, Abnar & Zuidema 2020). A session
computes it once per source when it opens and hands it to its snapshots as
``SessionSnapshot.source_mixing``; batch translation never pays for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from attnscope.engine.attention_layers import encoder_rollout


def encoder_self_attention(model: Any, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
    """(1, S) model token ids and their 0/1 mask -> the encoder's self-attention of the
    real tokens, (layers, heads, S_real, S_real) float32 on the CPU, first layer first."""
    if input_ids.dim() != 2 or input_ids.size(0) != 1:
        raise ValueError(f"source_mixing takes one input (1, S), got {tuple(input_ids.shape)}")
    with torch.no_grad():
        out = model.get_encoder()(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_attentions=True,
            return_dict=True,
        )
    if not out.attentions:
        raise ValueError("this encoder returned no attention weights (not loaded eager?)")
    real = attention_mask[0].bool()
    stacked = torch.stack([a[0] for a in out.attentions])  # (layers, heads, S, S)
    return stacked[:, :, real][:, :, :, real].float().cpu()


def source_mixing(model: Any, input_ids: Tensor, attention_mask: Tensor) -> np.ndarray:
    """(S_real, S_real) float32 rollout of the encoder's self-attention for one input:
    row i is how much each source token makes up encoder output i (rows sum to 1)."""
    return encoder_rollout(encoder_self_attention(model, input_ids, attention_mask).numpy())
