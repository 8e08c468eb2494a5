"""The fast step's dot-attention products over a beam's repeated rows, with the bits of
the reference's one product per row.

Beam search repeats each input's memory for its k hypotheses, so the k rows of an input
attend over the same keys and values. The reference (``LuongDotAttention.scores`` and
``Attention.weighted_sum``) makes one batched product per row: ``bmm(keys, q)`` (N, S, A)
x (N, A, 1), and ``bmm(weights, values)`` (N, 1, S) x (N, S, H). MKL runs the first at
~20 µs per row whatever its width, and both read the repeated (N, S, ·) memory, which
no cache holds between steps. Here each input's rows share one product, several rows
wide, over that input's keys or values kept once (G, S, ·).

Bits: MKL rounds a product's columns as the one-column product does only for some
widths, measured on this project's machine (MKL 2024.0, AVX-512) over two or more
inputs (a single input's product takes MKL's unbatched path, which rounds
differently):

- scores: widths 1, 2, 3, 4 and 8 (5, 6, 7 and most widths above 8 differ), so up to 8
  rows at a time, padded with zero columns to the next of those widths;
- context: widths 1, 2 and 3 (4 and more differ), so up to 3 rows at a time.

tests/models/test_grouped_products.py checks these widths over a sweep of shapes;
``use_grouped_products`` keeps every other device and build on the reference.
Bench beam step (32 inputs x 5 rows, 29 positions, 512 wide, int8): scores 3.2 -> 1.0
ms, context 1.3 -> 0.6 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from attnscope.models.state import ROW_RUNS, EncoderMemory

SCORE_WIDTHS = (1, 2, 3, 4, 8)
CONTEXT_WIDTH = 3
_DERIVED_KEY = "row groups"  # EncoderMemory.derived key of row_groups' answer


@dataclass(frozen=True)
class RowGroups:
    """A memory whose N rows come in G >= 2 runs of ``size`` >= 2 identical rows.

    keys:   (G, S, A) the keys of each run
    values: (G, S, H) the values of each run
    """

    size: int
    keys: Tensor
    values: Tensor

    def dot_scores(self, query: Tensor) -> Tensor:
        """qᵀ k of each row over its run's keys: query (N, A) -> scores (N, 1, S), the
        bits of ``bmm(repeated keys, query.unsqueeze(2)).transpose(1, 2)``."""
        groups, length, width = self.keys.shape
        rows = query.view(groups, self.size, width)
        widest = SCORE_WIDTHS[-1]
        pieces = []
        for start in range(0, self.size, widest):
            count = min(widest, self.size - start)
            padded = min(w for w in SCORE_WIDTHS if w >= count)
            columns = query.new_zeros(groups, width, padded)  # (G, A, w)
            columns[:, :, :count] = rows[:, start : start + count].transpose(1, 2)
            pieces.append(torch.bmm(self.keys, columns)[:, :, :count])  # (G, S, count)
        scores = torch.cat(pieces, dim=2).transpose(1, 2)  # (G, g, S)
        return scores.reshape(groups * self.size, 1, length)

    def context(self, weights: Tensor) -> Tensor:
        """Each row's weighted sum of its run's values: weights (N, 1, S) -> (N, H), the
        bits of ``bmm(weights, repeated values).squeeze(1)``."""
        groups, length, width = self.values.shape
        rows = weights.view(groups, self.size, length)
        pieces = [
            torch.bmm(rows[:, start : start + CONTEXT_WIDTH], self.values)  # (G, ≤3, H)
            for start in range(0, self.size, CONTEXT_WIDTH)
        ]
        return torch.cat(pieces, dim=1).view(groups * self.size, width)


def use_grouped_products(query: Tensor) -> bool:
    """True where the widths above hold: a contiguous query (N, A) on the CPU with MKL at
    full float32 precision (a lower ``set_float32_matmul_precision`` may hand the
    products to oneDNN), without autograd."""
    return (
        query.is_cpu
        and query.is_contiguous()
        and torch.backends.mkl.is_available()
        and torch.get_float32_matmul_precision() == "highest"
        and not torch.is_grad_enabled()
    )


def row_groups(memory: EncoderMemory) -> RowGroups | None:
    """``memory``'s runs of identical rows (keys and values), or None; worked out once per
    memory. A memory that says its runs (``ROW_RUNS``: beam search's repeat, and the
    memory left when finished inputs are dropped) is not compared row by row again: that
    took ~9 ms at 32 inputs x 5 rows, each time an input finished."""
    derived = memory.derived
    if _DERIVED_KEY not in derived:
        runs = derived.get(ROW_RUNS)
        if runs is None:
            found = _find_row_groups(memory.keys, memory.values)
            if found is not None:
                derived[ROW_RUNS] = found.size
        else:
            found = _groups_of(memory.keys, memory.values, runs)
        derived[_DERIVED_KEY] = found
    return derived[_DERIVED_KEY]


def _groups_of(keys: Tensor, values: Tensor, size: int) -> RowGroups | None:
    """The groups of rows known to come in runs of ``size`` copies (G >= 2 runs)."""
    if size < 2 or keys.size(0) // size < 2:
        return None
    return RowGroups(size=size, keys=keys[::size].contiguous(), values=values[::size].contiguous())


def _find_row_groups(keys: Tensor, values: Tensor) -> RowGroups | None:
    """The longest run size g that splits every row of ``keys`` and ``values`` into G >= 2
    runs of identical rows; None when there is none (rows all distinct, one input)."""
    rows = keys.size(0)
    flat = [keys.reshape(rows, -1), values.reshape(rows, -1)]  # (N, S·A), (N, S·H)
    run = 1
    while run < rows // 2 and all(torch.equal(f[run], f[0]) for f in flat):
        run += 1
    for size in range(run, 1, -1):  # a repeated input makes the first run longer
        if rows % size == 0 and all(_runs_of(f, size) for f in flat):
            return _groups_of(keys, values, size)
    return None


def _runs_of(flat: Tensor, size: int) -> bool:
    """True when every run of ``size`` rows of ``flat`` (N, D) holds one row repeated."""
    runs = flat.view(flat.size(0) // size, size, -1)  # (G, g, D)
    return all(torch.equal(runs[:, i], runs[:, 0]) for i in range(1, size))


__all__ = ["CONTEXT_WIDTH", "SCORE_WIDTHS", "RowGroups", "row_groups", "use_grouped_products"]
