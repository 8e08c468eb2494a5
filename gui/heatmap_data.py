"""What a heat map shows, held without Qt: attention grown row by row, tokens, raw scores.

The weights live in a (capacity, heads, S) buffer so live stepping (``append_row``)
writes one row; with ``layers`` > 1 the heads are layer-major (layers·heads rows,
gui/heatmap_layers.py). The view asks for the (T, S) matrix of a layer and head
choice, of the weights or of the raw scores, and for the coverage up to a row.
"""

from __future__ import annotations

import numpy as np

from attnscope.gui.heatmap_items import room_for_row, score_rows
from attnscope.gui.heatmap_layers import LayerHeadChoice, layer_count, shown_matrix, valid_choice

WEIGHTS = "weights"  # what the cells show: attention weights (0..1) ...
SCORES = "scores"  # ... or the raw pre-softmax scores, on their own scale


class HeatmapData:
    """Attention of one decode, (T, layers·heads, S), with its source and target tokens."""

    def __init__(self) -> None:
        self.source: list[str] = []
        self.target: list[str] = []
        self._buffer = np.zeros((0, 1, 0), dtype=np.float32)  # (capacity, heads, S)
        self.rows = 0
        self.scores: np.ndarray | None = None  # (T', heads, S) raw scores, T' <= T
        self.model_layers = 1  # the model's attention layers (its heads are layer-major)
        self.mixing: np.ndarray | None = None  # (S, S) the encoder's rollout, if it has one

    def set_heads(
        self, weights: np.ndarray, layers: int = 1, mixing: np.ndarray | None = None
    ) -> None:
        """Hold multi-head attention ``weights`` (T, layers·heads, S), layer-major, and the
        encoder's rollout ``mixing`` (S, S) when it has one."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 3:
            raise ValueError(f"head weights must be (T, heads, S), got shape {weights.shape}")
        if mixing is not None:
            mixing = np.asarray(mixing, dtype=np.float32)
            if mixing.shape != (weights.shape[2],) * 2:
                raise ValueError(
                    f"mixing must be (S, S) with S={weights.shape[2]}, got {mixing.shape}"
                )
        self._buffer = weights.copy()
        self.rows = weights.shape[0]
        self.model_layers, self.mixing = layers, mixing

    def append_row(self, row: np.ndarray, target_token: str) -> None:
        """Add the attention of one new decode step: ``row`` (S,) or (heads, S)."""
        row = np.asarray(row, dtype=np.float32)
        row = row[None, :] if row.ndim == 1 else row  # (heads, S)
        if row.ndim != 2:
            raise ValueError(f"attention row must be (S,) or (heads, S), got shape {row.shape}")
        if self.rows == 0 and self._buffer.shape[1:] != row.shape:
            self._buffer = np.zeros((64, *row.shape), dtype=np.float32)
        elif self._buffer.shape[1:] != row.shape:
            expected = self._buffer.shape[1:]
            raise ValueError(f"attention row has shape {row.shape}, expected {expected}")
        self._buffer = room_for_row(self._buffer, self.rows)
        self._buffer[self.rows] = row
        self.rows += 1
        del self.target[self.rows - 1 :]
        self.target.extend([""] * (self.rows - 1 - len(self.target)) + [target_token])

    def set_scores(self, scores: np.ndarray | None) -> None:
        """The raw pre-softmax scores of the rows: (T', heads, S), None to forget."""
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.ndim != 3:
                raise ValueError(f"scores must be (T, heads, S), got shape {scores.shape}")
        self.scores = scores

    def clear(self) -> None:
        self.source, self.target = [], []
        self._buffer = np.zeros((0, 1, 0), dtype=np.float32)
        self.rows = 0
        self.scores = None
        self.model_layers, self.mixing = 1, None

    def heads(self) -> np.ndarray:
        """(T, heads, S) view of the weights held."""
        return self._buffer[: self.rows]

    def head_count(self) -> int:
        """Attention rows per step: layers · heads per layer."""
        return self._buffer.shape[1]

    def layer_count(self) -> int:
        """The model's layers when they divide the rows held (else the rows are one layer)."""
        return layer_count(self.head_count(), self.model_layers)

    def heads_per_layer(self) -> int:
        return self.head_count() // self.layer_count()

    def labels(self) -> tuple[list[str], list[str]]:
        """Source and target labels, one per column and row (``#i`` where a token is missing)."""
        columns = self._buffer.shape[2] if self.rows else len(self.source)
        rows = self.rows if self.rows else len(self.target)
        source = self.source + [f"#{i}" for i in range(len(self.source), columns)]
        target = self.target + [f"#{i}" for i in range(len(self.target), rows)]
        return source[:columns], target[:rows]

    def shown(self, choice: LayerHeadChoice, value_kind: str, *, rolled_out: bool) -> np.ndarray:
        """(T, S) what the image shows for a valid ``choice`` (gui/heatmap_layers.py), rolled
        out through ``mixing`` when ``rolled_out`` (weights only)."""
        data = self.heads()  # (T, layers·heads, S)
        if value_kind == SCORES:
            data = score_rows(self.scores, data.shape)
        mixing = self.mixing if rolled_out and value_kind == WEIGHTS else None
        return shown_matrix(data, self.layer_count(), choice, mixing)

    def coverage(self, row: int) -> np.ndarray:
        """(S,) each source token's weight summed over rows 0..row, heads averaged."""
        weights = self._buffer[: row + 1]  # (row + 1, heads, S)
        return weights.mean(axis=1).sum(axis=0, dtype=np.float32)

    def valid_choice(self, choice: LayerHeadChoice) -> LayerHeadChoice:
        """``choice`` made to fit the data held (an index it lacks becomes the mean)."""
        return valid_choice(choice, self.layer_count(), self.heads_per_layer())
