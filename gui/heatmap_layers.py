"""Which layer and head of layered attention a view shows, without Qt.

A decode's attention is (T, layers·heads, S), **layer-major** (row ``l · H + h`` is layer
``l``, head ``h``; engine/hf/step_model.py). A view picks a layer and a head of it:

- layer: a layer index or ``LAYER_MEAN`` (every layer averaged);
- head: a head index within the layer, ``HEAD_MEAN`` (its heads averaged) or
  ``HEAD_GRID`` (small multiples of every layer × head take the heat map's place; its
  matrix, for exports, is then the layer's mean of heads).

The mean of layers is over every head, so it pairs only with the mean of heads (or the
grid). The bundled RNN models are the one-layer case: whatever the layer choice, that
one layer is shown. Attention rollout (engine/attention_layers.py) is a switch of its
own beside this choice: it rolls the chosen layer (or every layer) out through the
encoder's self-attention, heads averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnscope.engine.attention_layers import rollout, select

HEAD_MEAN = "mean"
HEAD_GRID = "grid"
LAYER_MEAN = "mean"  # the mean over every layer and head
NO_ROLLOUT = (
    "no encoder self-attention to roll out: an RNN or CNN encoder mixes the source without "
    "attention weights (and a picture's encoder is not rolled out yet)"
)


@dataclass(frozen=True)
class LayerHeadChoice:
    """One layer choice and one head choice (see the module docstring)."""

    layer: int | str = LAYER_MEAN
    head: int | str = HEAD_MEAN

    def __post_init__(self) -> None:
        if isinstance(self.layer, str) and self.layer != LAYER_MEAN:
            raise ValueError(
                f"unknown layer mode {self.layer!r}; use a layer index or {LAYER_MEAN!r}"
            )
        if isinstance(self.head, str) and self.head not in (HEAD_MEAN, HEAD_GRID):
            raise ValueError(
                f"unknown head mode {self.head!r}; use a head index, {HEAD_MEAN!r} or {HEAD_GRID!r}"
            )

    def with_head(self, head: int | str, layers: int, heads: int) -> LayerHeadChoice:
        """This choice with ``head``; ValueError for a head out of range, or one head while
        every layer of several is shown."""
        choice = LayerHeadChoice(self.layer, head)
        if isinstance(head, int) and not 0 <= head < max(heads, 1):
            raise ValueError(f"head {head} out of range; this attention has {heads} head(s)")
        if isinstance(head, int) and layers > 1 and not isinstance(self.layer, int):
            raise ValueError(f"head {head} of which layer? pick a layer first")
        return choice

    def with_layer(self, layer: int | str, layers: int, heads: int) -> LayerHeadChoice:
        """This choice with ``layer`` (a single head goes with the mean of layers);
        ValueError for a layer out of range."""
        if isinstance(layer, int) and not 0 <= layer < layers:
            raise ValueError(f"layer {layer} out of range; this attention has {layers} layer(s)")
        return valid_choice(LayerHeadChoice(layer, self.head), layers, heads)


def layer_count(rows: int, layers: int) -> int:
    """``layers`` when it divides the ``rows`` of attention per step, else 1 (attention of
    another shape, e.g. a one-layer model's shown while a layered model is announced)."""
    return layers if layers > 1 and rows % layers == 0 else 1


def valid_choice(choice: LayerHeadChoice, layers: int, heads: int) -> LayerHeadChoice:
    """``choice`` made to fit attention of ``layers`` × ``heads`` (heads per layer): an index
    out of range becomes the mean; a single head pairs only with a single layer (or a
    one-layer model); one head has no grid."""
    layer, head = choice.layer, choice.head
    if isinstance(layer, int) and not 0 <= layer < layers:
        layer = LAYER_MEAN
    one_layer = layers == 1 or isinstance(layer, int)
    if isinstance(head, int) and (not 0 <= head < heads or not one_layer):
        head = HEAD_MEAN
    if head == HEAD_GRID and layers * heads <= 1:
        head = HEAD_MEAN
    return LayerHeadChoice(layer, head)


def shown_matrix(
    data: np.ndarray, layers: int, choice: LayerHeadChoice, mixing: np.ndarray | None = None
) -> np.ndarray:
    """(T, S) float32 what a view shows of ``data`` (T, layers·heads, S) for a valid
    ``choice``: one head, the mean of a layer's heads (also in grid mode), or the mean
    of every layer and head; rolled out through the encoder's ``mixing`` (S, S) when
    given (heads averaged, engine/attention_layers.py)."""
    layer = 0 if layers == 1 else choice.layer
    layer = layer if isinstance(layer, int) else None
    if mixing is not None:
        return rollout(data, mixing, layers, layer=layer)
    head = choice.head if isinstance(choice.head, int) else None
    return np.ascontiguousarray(select(data, layers, layer=layer, head=head), dtype=np.float32)


def panel_title(index: int, layers: int, heads: int) -> str:
    """A grid panel's title: "L2 H3" with layers, "head 3" for a one-layer model."""
    layer, head = divmod(index, heads)
    return f"L{layer + 1} H{head + 1}" if layers > 1 else f"head {head + 1}"
