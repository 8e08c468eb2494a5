"""Two models' attention over one output, on one grid: a difference map and agreement.

Two models' own outputs usually differ (in words, in length), so their attention rows
are not about the same tokens. The comparison therefore forces ONE output through both
models (engine/compare/scoring.py's ``force_output``; by default model A's own output,
or a reference) and compares the two attentions row by row over that output.

The grid:
- ``"piece"`` level when both models segment the source and the output into the same
  pieces: rows are the output's pieces (and eos), columns the source pieces (and eos);
- ``"word"`` level otherwise (different tokenizers): subwords are grouped into words as
  engine/alignment.py counts them (a piece starting with ``▁`` starts a word). A source
  word's weight is the sum of its pieces' weights (attention mass on the word); a target
  word's row is the mean of its pieces' rows. The source eos stays a column of its own
  and the output's eos a row of its own, so every row still sums to 1.

A captioner's source axis is its grid cells (``"row,col"``), never grouped; two
captioners compare when their grids match. Heads are averaged (a multi-head model
against a single-head one). Per row: the
Jensen-Shannon divergence of the two distributions in bits (0 identical, 1 disjoint)
and whether both put their largest weight on the same column. ``mean_jsd`` and
``top1_agreement`` sum a comparison up in one figure each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from attnscope.engine.alignment import word_index
from attnscope.engine.pieces import EOS_PIECE, WORD_START

if TYPE_CHECKING:
    from attnscope.engine.inference_results import SessionSnapshot

PIECE_LEVEL = "piece"
WORD_LEVEL = "word"


@dataclass(frozen=True)
class AttentionComparison:
    """Model A's and B's attention over one output on a shared grid (R rows, C columns).

    a, b:       (R, C) float32, heads averaged, each row sums to 1
    difference: (R, C) float32, ``a - b``
    jsd:        (R,) float32 Jensen-Shannon divergence per row, bits
    top1_match: (R,) bool, both rows peak on the same column
    """

    level: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    difference: np.ndarray
    jsd: np.ndarray
    top1_match: np.ndarray

    @property
    def mean_jsd(self) -> float:
        return float(self.jsd.mean()) if len(self.jsd) else 0.0

    @property
    def top1_agreement(self) -> float:
        """Share of rows where both models look hardest at the same column."""
        return float(self.top1_match.mean()) if len(self.top1_match) else 1.0

    def to_dict(self) -> dict:
        """JSON-ready fields (decode_record.to_jsonable rounds the arrays)."""
        return {
            "level": self.level,
            "rows": list(self.rows),
            "columns": list(self.columns),
            "attention_a": self.a,
            "attention_b": self.b,
            "jsd": self.jsd,
            "top1_match": self.top1_match.tolist(),
            "mean_jsd": self.mean_jsd,
            "top1_agreement": self.top1_agreement,
        }


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(..., C) rows -> (...) Jensen-Shannon divergence in bits, in [0, 1]."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    middle = (p + q) / 2

    def kl(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(x > 0, x * np.log2(x / middle), 0.0)
        return terms.sum(axis=-1)

    return np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0).astype(np.float32)


def attention_entropy(attention: np.ndarray) -> np.ndarray:
    """(T, heads, S) -> (T, heads) entropy of each row in nats (0: one position)."""
    weights = np.asarray(attention, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(weights > 0, -weights * np.log(weights), 0.0)
    return terms.sum(axis=-1).astype(np.float32)


def compare_attention(forced_a: SessionSnapshot, forced_b: SessionSnapshot) -> AttentionComparison:
    """Compare two models' attention over the same output text forced through each.

    ValueError when a model has no attention or the two segmentations cannot be lined
    up word by word (a different number of words).
    """
    for name, snapshot in (("A", forced_a), ("B", forced_b)):
        if snapshot.attention is None or snapshot.num_heads == 0:
            raise ValueError(f"model {name} has no attention to compare")
    if forced_a.grid != forced_b.grid:
        raise ValueError(
            f"the two captioners see different grids ({forced_a.grid} and {forced_b.grid})"
        )
    a = forced_a.attention.mean(axis=1)  # (T_a, S_a)
    b = forced_b.attention.mean(axis=1)  # (T_b, S_b)
    same_pieces = (
        forced_a.source_pieces == forced_b.source_pieces
        and forced_a.target_pieces == forced_b.target_pieces
    )
    if same_pieces:
        rows, columns = forced_a.target_pieces, _source_labels(forced_a)
        level = PIECE_LEVEL
    else:
        a, rows, columns = _by_word(a, forced_a)
        b, rows_b, columns_b = _by_word(b, forced_b)
        if a.shape != b.shape:
            raise ValueError(
                f"the two models split the text into different words ({len(columns)} and "
                f"{len(columns_b)} source, {len(rows)} and {len(rows_b)} output words)"
            )
        level = WORD_LEVEL
    a, b = a.astype(np.float32), b.astype(np.float32)
    return AttentionComparison(
        level=level,
        rows=tuple(rows),
        columns=tuple(columns),
        a=a,
        b=b,
        difference=a - b,
        jsd=jensen_shannon(a, b),
        top1_match=a.argmax(axis=-1) == b.argmax(axis=-1),
    )


def _source_labels(snapshot: SessionSnapshot) -> tuple[str, ...]:
    """The source axis's labels: the pieces, or a captioner's grid cells ("row,col")."""
    if snapshot.grid is None:
        return snapshot.source_pieces
    rows, cols = snapshot.grid
    return tuple(f"{r},{c}" for r in range(rows) for c in range(cols))


def _by_word(
    weights: np.ndarray, snapshot: SessionSnapshot
) -> tuple[np.ndarray, list[str], list[str]]:
    """(T, S) piece attention -> (output words (+eos), source words (+eos)) attention and
    labels; a captioner's grid cells stay as they are."""
    if snapshot.grid is None:
        columns, column_of = _groups(snapshot.source_pieces)
    else:
        columns = list(_source_labels(snapshot))
        column_of = np.arange(len(columns))
    rows, row_of = _groups(snapshot.target_pieces)
    summed = np.zeros((weights.shape[0], len(columns)), dtype=np.float64)
    np.add.at(summed.T, column_of, weights.T)  # source pieces of a word: weights add up
    grouped = np.zeros((len(rows), len(columns)), dtype=np.float64)
    counts = np.zeros(len(rows), dtype=np.float64)
    np.add.at(grouped, row_of, summed)
    np.add.at(counts, row_of, 1.0)
    return grouped / counts[:, None], rows, columns  # target pieces of a word: rows average


def _groups(pieces: tuple[str, ...]) -> tuple[list[str], np.ndarray]:
    """Word labels and each piece's group index; the pieces that are no word (eos, a
    leading ``<s>`` or ``[CLS]``: engine/pieces.py NON_WORD_PIECES) are one group, last,
    labelled eos when there is one."""
    words = word_index(pieces)
    count = max(words, default=-1) + 1
    labels = [""] * count
    for piece, word in zip(pieces, words, strict=True):
        if word >= 0:
            labels[word] += piece
    labels = [label.lstrip(WORD_START) or label for label in labels]
    index = np.array([word if word >= 0 else count for word in words], dtype=np.int64)
    others = [piece for piece, word in zip(pieces, words, strict=True) if word < 0]
    if others:
        labels.append(EOS_PIECE if EOS_PIECE in others else others[0])
    return labels, index
