"""Attention with layers: split the stacked heads, average them, and roll attention out.

A step model reports its cross-attention as (…, heads, S) rows. A Transformer decoder
(the Hugging Face models) has one cross-attention per decoder layer, so its rows stack
``layers`` x ``heads per layer``, **layer-major**: row ``l * H + h`` is layer ``l``,
head ``h`` (engine/hf/step_model.py). RNN decoders attend once a step: ``layers`` = 1.
``split`` restores the layer axis; ``mean_heads`` / ``mean_layers`` / ``select`` give
the views one row per source position.

Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in
Transformers", ACL, https://arxiv.org/abs/2005.00928). A decoder layer's
cross-attention reads the encoder's *last* layer outputs, and each of those is a
mixture of the source tokens made by the encoder's self-attention, layer after layer.
Rollout estimates that mixture: per encoder layer l, with A_l its self-attention
averaged over heads (S, S) and the residual connection counted as an identity,

    Â_l = rownorm(0.5 · A_l + 0.5 · I)
    M   = Â_L · Â_(L-1) · … · Â_1                              (S, S)

so row i of M says how much source token j makes up encoder output i (rows sum to 1).
The rolled-out cross-attention of one decoder step is then ``a @ M``, with ``a`` (S,)
the cross-attention averaged over heads (of one decoder layer, or of all): the share of
each *source token*, rather than of each encoder output, in what the step read. It
applies only where the encoder's mixing is attention: a Transformer encoder. An RNN or
CNN encoder also mixes tokens, through recurrence or convolution, but has no weights to
roll out, so those models carry no mixing matrix (``source_mixing`` None).

numpy only: the GUI imports this module at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def split(attention: np.ndarray, layers: int) -> np.ndarray:
    """(…, layers · heads, S) layer-major -> (…, layers, heads, S), a view of the same data."""
    attention = np.asarray(attention)
    rows = attention.shape[-2]
    if layers < 1 or rows % layers:
        raise ValueError(f"{rows} attention rows do not split into {layers} layers")
    return attention.reshape(*attention.shape[:-2], layers, rows // layers, attention.shape[-1])


def mean_heads(attention: np.ndarray, layers: int) -> np.ndarray:
    """(…, layers · heads, S) -> (…, layers, S): each layer's heads averaged."""
    return split(attention, layers).mean(axis=-2)


def mean_layers(attention: np.ndarray, layers: int) -> np.ndarray:
    """(…, layers · heads, S) -> (…, heads, S): head h averaged over the layers."""
    return split(attention, layers).mean(axis=-3)


def select(
    attention: np.ndarray, layers: int, *, layer: int | None = None, head: int | None = None
) -> np.ndarray:
    """(…, layers · heads, S) -> (…, S): one layer's head, or the mean over heads
    (``head`` None), of one layer or of all (``layer`` None)."""
    parts = split(attention, layers)  # (…, L, H, S)
    parts = parts.mean(axis=-3) if layer is None else parts[..., _index(layer, layers), :, :]
    return parts.mean(axis=-2) if head is None else parts[..., _index(head, parts.shape[-2]), :]


def _index(value: int, size: int) -> int:
    if not 0 <= value < size:
        raise ValueError(f"index {value} is out of range for {size}")
    return value


def encoder_rollout(self_attentions: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """The encoder's source-token mixing matrix M (S, S) float32 (module docstring).

    self_attentions: the encoder's self-attention of one input, first layer first, as
    (layers, heads, S, S) or a sequence of (heads, S, S); rows sum to 1 over the S
    real source tokens (padding cut off by the caller).
    """
    layers = [np.asarray(a, dtype=np.float64) for a in self_attentions]
    if not layers:
        raise ValueError("rollout needs at least one encoder layer")
    size = layers[0].shape[-1]
    identity = np.eye(size)
    mixing = identity
    for weights in layers:
        if weights.ndim != 3 or weights.shape[1:] != (size, size):
            raise ValueError(f"an encoder layer's attention is {weights.shape}, not (heads, S, S)")
        step = 0.5 * weights.mean(axis=0) + 0.5 * identity  # (S, S)
        step /= step.sum(axis=-1, keepdims=True)
        mixing = step @ mixing  # later layers mix the earlier layers' outputs
    return mixing.astype(np.float32)


def rollout(
    attention: np.ndarray, mixing: np.ndarray, layers: int, *, layer: int | None = None
) -> np.ndarray:
    """Rolled-out cross-attention (…, S) float32: ``select(attention, layers, layer=layer)``
    (heads averaged; all layers averaged when ``layer`` is None) times the encoder's
    mixing matrix M (S, S) from ``encoder_rollout``."""
    mixing = np.asarray(mixing, dtype=np.float32)
    cross = select(attention, layers, layer=layer)  # (…, S)
    if mixing.shape != (cross.shape[-1], cross.shape[-1]):
        raise ValueError(
            f"the mixing matrix is {mixing.shape}; the attention has S={cross.shape[-1]}"
        )
    return (cross.astype(np.float32) @ mixing).astype(np.float32)
