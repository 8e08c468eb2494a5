"""How far an attribution agrees with attention, per step and over an output.

Three numbers per step, between the attention row (S,) and the attribution row (S,),
the attribution taken as its magnitude |a| (a position that pushes the target down
matters as much as one that pushes it up; attention has no sign):

- ``spearman``: Spearman's rank correlation, ties given their average rank; NaN when
  either row is constant (no ranking to compare) or has fewer than 2 positions;
- ``top1``: the attention's peak position is the attribution's peak position;
- ``jsd``: Jensen-Shannon divergence in bits (base 2, so in [0, 1]) between the
  attention normalised to sum 1 and |a| normalised to sum 1; NaN when |a| is all zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Agreement:
    """spearman: rho in [-1, 1] (NaN: undefined); top1: one row's peak match (a bool), or
    for a mean the share of rows whose peaks match; jsd: bits in [0, 1] (NaN: undefined)."""

    spearman: float
    top1: bool | float
    jsd: float


def average_ranks(values: np.ndarray) -> np.ndarray:
    """(S,) -> (S,) float ranks 1..S, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    _, group, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(group, weights=ranks)
    return sums[group] / counts[group]


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rho of two (S,) rows (ties averaged); NaN when either is constant."""
    if len(first) < 2:
        return float("nan")
    a, b = average_ranks(first), average_ranks(second)
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / scale) if scale > 0 else float("nan")


def jensen_shannon_bits(p: np.ndarray, q: np.ndarray) -> float:
    """JSD of two distributions (S,) in bits, in [0, 1]."""
    middle = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        inside = x > 0
        return float((x[inside] * np.log2(x[inside] / middle[inside])).sum())

    return float(np.clip(0.5 * kl(p) + 0.5 * kl(q), 0.0, 1.0))


def _rows(attention_row, attribution_row) -> tuple[np.ndarray, np.ndarray]:
    attention = np.asarray(attention_row, dtype=np.float64).ravel()
    magnitude = np.abs(np.asarray(attribution_row, dtype=np.float64).ravel())
    if attention.shape != magnitude.shape or attention.size == 0:
        raise ValueError(
            f"attention and attribution rows must have the same non-zero length, "
            f"got {attention.shape} and {magnitude.shape}"
        )
    if not (np.isfinite(attention).all() and np.isfinite(magnitude).all()):
        raise ValueError("attention and attribution rows must be finite")
    if (attention < 0).any() or attention.sum() <= 0:
        raise ValueError("the attention row must be non-negative with some weight")
    return attention, magnitude


def agreement(attention_row, attribution_row) -> Agreement:
    """Agreement of one step: attention (S,) weights, attribution (S,) scores (signed)."""
    attention, magnitude = _rows(attention_row, attribution_row)
    total = magnitude.sum()
    jsd = (
        jensen_shannon_bits(attention / attention.sum(), magnitude / total)
        if total > 0
        else float("nan")
    )
    return Agreement(
        spearman=spearman(attention, magnitude),
        top1=bool(np.argmax(attention) == np.argmax(magnitude)),
        jsd=jsd,
    )


def mean_agreement(attention: np.ndarray, attribution: np.ndarray) -> Agreement:
    """The mean over the rows of two (T, S) matrices (NaN rows left out of a mean; NaN
    when every row's value is undefined); ``top1`` is the share of rows that match."""
    attention, attribution = np.asarray(attention), np.asarray(attribution)
    if attention.ndim != 2 or attention.shape != attribution.shape or attention.shape[0] == 0:
        raise ValueError(
            f"attention and attribution must be (T, S) matrices of one shape with T > 0, "
            f"got {attention.shape} and {attribution.shape}"
        )
    rows = [agreement(a, b) for a, b in zip(attention, attribution, strict=True)]

    def mean(values: list[float]) -> float:
        defined = [v for v in values if not np.isnan(v)]
        return float(np.mean(defined)) if defined else float("nan")

    return Agreement(
        spearman=mean([r.spearman for r in rows]),
        top1=float(np.mean([r.top1 for r in rows])),
        jsd=mean([r.jsd for r in rows]),
    )
