"""Cross-scoring: each model's output scored by the other model, log-prob per token.

``cross_score(scorer, source, text, config)`` forces ``text`` (the other model's
output) through ``scorer`` teacher-forced on ``source`` and returns the same
``ReferenceReport`` that ``attnscope score`` prints: it is ``force_reference``
(engine/reference.py) itself, without the scorer's own decode. The output crosses as
text, not token ids, because two models may have different target tokenizers: the
scorer reads it with its own tokenizer (``report.pieces``, one log-prob each, then
eos), exactly as `score --ref` reads a reference line. A word view of the same scores
(what the chips of two different tokenizers can share) is ``report_words``.

``cross_scores(a, b, source, text_a, text_b, ...)`` does both directions and keeps
the forced sessions: their attention over the other model's output is what
engine/compare/attention.py compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attnscope.engine.decode_diff import DecodedWord, group_words
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.reference import ReferenceReport, force_reference

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.inference_results import SessionSnapshot


@dataclass(frozen=True)
class ForcedOutput:
    """One output forced through one model: its report and the forced decode's view
    record (``snapshot.attention`` (T, heads, S) over the scorer's own source pieces)."""

    report: ReferenceReport
    snapshot: SessionSnapshot


@dataclass(frozen=True)
class CrossScores:
    """Both directions: ``b_scores_a`` is model B scoring A's output, and the reverse."""

    b_scores_a: ForcedOutput
    a_scores_b: ForcedOutput


def force_output(
    scorer: InferenceModel,
    source: Any,
    text: str,
    config: DecodeConfig | None = None,
    *,
    cancel: CancelFlag | None = None,
) -> ForcedOutput:
    """``text`` forced through ``scorer`` on ``source`` (force_reference, no own decode).

    An output the scorer cannot take (empty, nothing its tokenizer reads, too long)
    raises InputTextError naming the reference, as `attnscope score` reports it.
    ``config`` gives only the top-k alternatives kept per step and the maximum length.
    """
    config = config if config is not None else DecodeConfig()
    opened, report = force_reference(scorer, source, config, text, cancel=cancel, compare=False)
    return ForcedOutput(report=report, snapshot=opened.snapshot())


def cross_score(
    scorer: InferenceModel,
    source: Any,
    text: str,
    config: DecodeConfig | None = None,
    *,
    cancel: CancelFlag | None = None,
) -> ReferenceReport:
    """How likely ``scorer`` finds ``text`` (another model's output) for ``source``:
    per-token log-probs over the scorer's pieces of ``text`` and eos."""
    return force_output(scorer, source, text, config, cancel=cancel).report


def cross_scores(
    model_a: InferenceModel,
    model_b: InferenceModel,
    source: Any,
    text_a: str,
    text_b: str,
    *,
    config_a: DecodeConfig,
    config_b: DecodeConfig,
    cancel: CancelFlag | None = None,
) -> CrossScores:
    """B scores A's output ``text_a`` and A scores B's ``text_b`` (each with its own
    config's maximum length and top-k)."""
    return CrossScores(
        b_scores_a=force_output(model_b, source, text_a, config_b, cancel=cancel),
        a_scores_b=force_output(model_a, source, text_b, config_a, cancel=cancel),
    )


def report_words(report: ReferenceReport) -> tuple[DecodedWord, ...]:
    """The report's pieces grouped into words, each with the product of its pieces'
    probabilities (eos belongs to no word): scores two tokenizers can line up."""
    return group_words(report.pieces, report.token_log_probs)
