"""What a heat map shows, held without Qt: attention grown row by row, tokens, raw scores.

The weights live in a (capacity, heads, S) buffer so live stepping (``append_row``)
writes one row; the view asks for the (T, S) matrix of one head or the mean of heads,
of the weights or of the raw scores, and for the coverage up to a row.
"""

from __future__ import annotations

import numpy as np

from attnscope.gui.heatmap_controls import HEAD_GRID, HEAD_MEAN
from attnscope.gui.heatmap_items import room_for_row, score_rows

WEIGHTS = "weights"  # what the cells show: attention weights (0..1) ...
SCORES = "scores"  # ... or the raw pre-softmax scores, on their own scale


class HeatmapData:
    """Attention of one decode, (T, heads, S), with its source and target tokens."""

    def __init__(self) -> None:
        self.source: list[str] = []
        self.target: list[str] = []
        self._buffer = np.zeros((0, 1, 0), dtype=np.float32)  # (capacity, heads, S)
        self.rows = 0
        self.scores: np.ndarray | None = None  # (T', heads, S) raw scores, T' <= T

    def set_heads(self, weights: np.ndarray) -> None:
        """Hold multi-head attention ``weights`` (T, heads, S)."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 3:
            raise ValueError(f"head weights must be (T, heads, S), got shape {weights.shape}")
        self._buffer = weights.copy()
        self.rows = weights.shape[0]

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

    def heads(self) -> np.ndarray:
        """(T, heads, S) view of the weights held."""
        return self._buffer[: self.rows]

    def head_count(self) -> int:
        return self._buffer.shape[1]

    def labels(self) -> tuple[list[str], list[str]]:
        """Source and target labels, one per column and row (``#i`` where a token is missing)."""
        columns = self._buffer.shape[2] if self.rows else len(self.source)
        rows = self.rows if self.rows else len(self.target)
        source = self.source + [f"#{i}" for i in range(len(self.source), columns)]
        target = self.target + [f"#{i}" for i in range(len(self.target), rows)]
        return source[:columns], target[:rows]

    def shown(self, head_mode: int | str, value_kind: str) -> np.ndarray:
        """(T, S) what the image shows: one head, or the mean of heads (also in grid mode)."""
        data = self.heads()  # (T, heads, S)
        if value_kind == SCORES:
            data = score_rows(self.scores, data.shape)
        if isinstance(head_mode, int) and head_mode < data.shape[1]:
            return np.ascontiguousarray(data[:, head_mode, :])
        return data.mean(axis=1, dtype=np.float32)

    def coverage(self, row: int) -> np.ndarray:
        """(S,) each source token's weight summed over rows 0..row, heads averaged."""
        weights = self._buffer[: row + 1]  # (row + 1, heads, S)
        return weights.mean(axis=1).sum(axis=0, dtype=np.float32)

    def valid_head_mode(self, mode: int | str) -> int | str:
        """``mode``, or the mean of heads when the data has no such head (or one head, no grid)."""
        heads = self.head_count()
        if isinstance(mode, int) and mode >= heads:
            return HEAD_MEAN
        if heads <= 1 and mode == HEAD_GRID:
            return HEAD_MEAN
        return mode
