"""Which decoding a checkpoint recommends: a small grid scored on validation data.

``attnscope train`` runs ``choose_decoding`` at the end of a run and
``scripts/choose_decoding.py`` runs it on a finished checkpoint; both store
``DecodingChoice.to_info()`` in the checkpoint's info:

- ``recommended_decoding``: the DecodeConfig fields of the best setting (what
  the CLI and the app decode with unless told otherwise, as Hugging Face
  applies a model's ``generation_config``);
- ``decoding_choice``: the metric, the data it was measured on and every
  setting's validation score, so the choice can be checked.

The grid is greedy, then beam 3 and beam 5 each with no length penalty, the
average, and GNMT α 0.6 / 1.0 / 1.5: eleven decodes of the validation set.
A later setting must score strictly higher to win, so ties go to the
cheaper decoding (greedy before beam 3 before beam 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from attnscope.engine.decoding.config import DecodeConfig

BEAM_SIZES = (3, 5)
LENGTH_PENALTIES = (("none", 0.0), ("average", 0.0), ("gnmt", 0.6), ("gnmt", 1.0), ("gnmt", 1.5))


def grid_settings() -> tuple[dict[str, Any], ...]:
    """The settings tried, cheapest first, as the DecodeConfig fields that differ per setting."""
    beams = tuple(
        {"strategy": "beam", "beam_size": k, "length_penalty": penalty}
        | ({"alpha": alpha} if penalty == "gnmt" else {})
        for k in BEAM_SIZES
        for penalty, alpha in LENGTH_PENALTIES
    )
    return ({"strategy": "greedy"}, *beams)


@dataclass(frozen=True)
class DecodingChoice:
    """The grid's outcome: every setting's score and the best one.

    settings: the grid settings in the order tried (dicts of DecodeConfig fields)
    scores:   the validation score of each setting (higher is better)
    metric:   what the score is ("bleu", "cider")
    data:     which data it was measured on, in words (e.g. "val.de.gz, 1014 sentences")
    fixed:    DecodeConfig fields every setting shared and the recommendation keeps
              (e.g. a captioner's max_length)
    """

    settings: tuple[dict[str, Any], ...]
    scores: tuple[float, ...]
    metric: str
    data: str
    fixed: dict[str, Any]

    @property
    def best_index(self) -> int:
        best = 0
        for index, score in enumerate(self.scores):
            if score > self.scores[best]:
                best = index
        return best

    @property
    def recommended(self) -> dict[str, Any]:
        """DecodeConfig fields of the best setting (plus the fixed ones)."""
        return {**self.settings[self.best_index], **self.fixed}

    def to_info(self) -> dict[str, Any]:
        """The two checkpoint info entries: ``recommended_decoding`` and ``decoding_choice``."""
        return {
            "recommended_decoding": self.recommended,
            "decoding_choice": {
                "metric": self.metric,
                "data": self.data,
                "fixed": dict(self.fixed),
                "grid": [
                    {"decoding": dict(setting), "score": round(float(score), 4)}
                    for setting, score in zip(self.settings, self.scores, strict=True)
                ],
            },
        }


def choose_decoding(
    score: Callable[[DecodeConfig], float],
    base: DecodeConfig,
    *,
    metric: str,
    data: str,
    fixed: dict[str, Any] | None = None,
    settings: Iterable[dict[str, Any]] | None = None,
    on_score: Callable[[dict[str, Any], float], None] | None = None,
) -> DecodingChoice:
    """Score every grid setting with ``score(config)`` (``base`` with the setting's fields).

    ``fixed`` names fields of ``base`` the recommendation should carry too (they
    were part of every measured decode). ``on_score(setting, value)`` is called
    after each setting, e.g. to log progress.
    """
    fixed = dict(fixed or {})
    base = replace(base, **fixed)
    tried = tuple(settings if settings is not None else grid_settings())
    scores = []
    for setting in tried:
        value = float(score(replace(base, **setting)))
        scores.append(value)
        if on_score is not None:
            on_score(setting, value)
    return DecodingChoice(tried, tuple(scores), metric, data, fixed)
