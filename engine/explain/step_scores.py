"""Per-step scores of a decode: how sure the model was of each token it gave.

All in nats, from the step's full log-probability row (V,) and the chosen id:

- ``probability``: p(chosen);
- ``entropy``: -sum p log p over the vocabulary (engine/decoding/base.py ``step_entropy``
  computes the same for a decode's rows);
- ``surprisal``: -log p(chosen);
- ``margin``: log p1 - log p2 of the two most probable tokens (whatever was chosen; 0
  when they tie, inf with a single possible token).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepScores:
    probability: float
    entropy: float
    surprisal: float
    margin: float


def step_scores(log_probs, chosen_id: int) -> StepScores:
    """Scores of choosing ``chosen_id`` from a (V,) row of log-probabilities."""
    row = np.asarray(log_probs, dtype=np.float64).ravel()
    if row.size == 0 or np.isnan(row).any():
        raise ValueError(f"log-probs must be a non-empty row without NaN, got shape {row.shape}")
    if not 0 <= int(chosen_id) < row.size:
        raise ValueError(f"chosen id {chosen_id} is outside the row's {row.size} tokens")
    chosen = float(row[int(chosen_id)])
    probs = np.exp(row)
    finite = np.isfinite(row)
    entropy = float(-(probs[finite] * row[finite]).sum())
    if row.size < 2:
        margin = float("inf")
    else:
        first, second = np.partition(row, row.size - 2)[-2:][::-1]
        margin = float(first - second)
    return StepScores(
        probability=float(np.exp(chosen)), entropy=entropy, surprisal=-chosen, margin=margin
    )
