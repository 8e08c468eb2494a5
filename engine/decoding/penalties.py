"""Length and coverage penalties that turn a hypothesis's log-prob into its ranking score.

``score = LENGTH_PENALTIES[name](log_prob, length, alpha)
        + COVERAGE_PENALTIES[name](attention, beta)``

They are applied once per finished hypothesis (on CPU, numpy), so they only
decide how finished hypotheses rank against each other; the hypotheses a beam
keeps at one step all have the same length, so a length penalty would not
change which of them survive.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from attnscope.engine.decoding.config import DecodeConfig

# Wu et al. 2016 (GNMT): lp(Y) = ((GNMT_BASE + |Y|) / (GNMT_BASE + 1)) ** alpha
GNMT_BASE = 5.0


def _no_length_penalty(log_prob: float, length: int, alpha: float) -> float:
    return log_prob


def _average(log_prob: float, length: int, alpha: float) -> float:
    return log_prob / max(length, 1)


def _gnmt_length(log_prob: float, length: int, alpha: float) -> float:
    return log_prob / ((GNMT_BASE + length) / (GNMT_BASE + 1.0)) ** alpha


LENGTH_PENALTIES: dict[str, Callable[[float, int, float], float]] = {
    "none": _no_length_penalty,
    "average": _average,
    "gnmt": _gnmt_length,
}


def _no_coverage_penalty(attention: np.ndarray | None, beta: float) -> float:
    return 0.0


def _gnmt_coverage(attention: np.ndarray | None, beta: float) -> float:
    """beta · Σ_s log(min(Σ_t a_ts, 1)) over attention (T, heads, S), heads averaged.

    Zero without attention. A source position never attended would give
    log(0); it is clamped to the smallest positive float instead.
    """
    if attention is None or attention.size == 0:
        return 0.0
    coverage = attention.astype(np.float64).mean(axis=1).sum(axis=0)  # (S,)
    tiny = np.finfo(np.float64).tiny
    return float(beta * np.log(np.clip(coverage, tiny, 1.0)).sum())


COVERAGE_PENALTIES: dict[str, Callable[[np.ndarray | None, float], float]] = {
    "none": _no_coverage_penalty,
    "gnmt": _gnmt_coverage,
}


def final_score(
    config: DecodeConfig, log_prob: float, length: int, attention: np.ndarray | None
) -> float:
    """Ranking score of a hypothesis with ``length`` tokens and attention (T, heads, S)."""
    score = LENGTH_PENALTIES[config.length_penalty](log_prob, length, config.alpha)
    return score + COVERAGE_PENALTIES[config.coverage_penalty](attention, config.beta)
