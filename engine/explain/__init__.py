"""Explain a step: attribution of target steps onto the input, agreement with attention,
and per-step scores (issue 17's engine; no Qt).

- ``explain(model, source, tokens, method=...)`` -> ``Attribution``: saliency, input x
  gradient, integrated gradients or occlusion, teacher-forced on the tokens shown
  (engine/explain/attribution.py);
- ``agreement`` / ``mean_agreement`` -> ``Agreement``: Spearman rho, top-1 match and
  Jensen-Shannon divergence between attention and an attribution (agreement.py);
- ``step_scores(log_probs, chosen_id)`` -> ``StepScores``: probability, entropy,
  surprisal and margin of one step (step_scores.py).
"""

from attnscope.engine.explain.agreement import Agreement, agreement, mean_agreement
from attnscope.engine.explain.attribution import (
    BASELINES,
    METHODS,
    Attribution,
    ExplainError,
    explain,
)
from attnscope.engine.explain.step_scores import StepScores, step_scores

__all__ = [
    "BASELINES",
    "METHODS",
    "Agreement",
    "Attribution",
    "ExplainError",
    "StepScores",
    "agreement",
    "explain",
    "mean_agreement",
    "step_scores",
]
