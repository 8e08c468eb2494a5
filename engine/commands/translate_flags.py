"""``attnscope translate --flag``: breakpoint conditions checked over every translated line.

Each line's best hypothesis is scanned (``Breakpoints.scan``) for the conditions
given (engine/debugger/specs.py has the text form, ``DEFAULT_SPEC`` the default);
the hits go after the translation (``translation ||| flags: repeated_ngram@5``,
steps 0-based) or into the record's ``flags`` list with ``--json``, and stderr
gets how many lines each condition flagged: an omission, over-translation and
repetition report for a whole file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from attnscope.engine.debugger.breakpoints import (
    BreakpointHit,
    Breakpoints,
    HypothesisTrace,
    TraceLabels,
)
from attnscope.engine.debugger.specs import DEFAULT_SPEC, parse_conditions
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference_results import Translation

# what a flagged line suggests, for the stderr report
REPORT_NAMES = {
    "uncovered_at_eos": "omission",
    "over_covered": "over-translation",
    "repeated_ngram": "repetition",
    "no_eos": "no EOS",
    "stuck_attention": "stuck attention",
    "entropy": "uncertain step",
    "low_probability": "unlikely token",
    "token": "token produced",
}

__all__ = [
    "DEFAULT_SPEC",
    "flag_summary",
    "flags_of",
    "flags_text",
    "load_flags",
    "prepare_config",
]


def load_flags(spec: str | None) -> Breakpoints | None:
    """The Breakpoints of a ``--flag`` spec, None without ``--flag`` (ValueError: bad spec)."""
    return None if spec is None else Breakpoints(parse_conditions(spec))


def prepare_config(
    breakpoints: Breakpoints, config: DecodeConfig, model, checkpoint: str
) -> DecodeConfig:
    """The decode config ``breakpoints`` need (step entropies only when a condition reads
    them: they cost time); a note on stderr when a condition can never fire on ``model``."""
    if not model.model.num_heads:
        blind = [c.name for c in breakpoints.conditions if c.needs_attention]
        if blind:
            print(
                f"attnscope: note: {checkpoint} has no attention, so {', '.join(blind)} never fire",
                file=sys.stderr,
            )
    return replace(config, step_entropy=True) if breakpoints.need_entropy else config


def flags_of(
    outcome: object, breakpoints: Breakpoints | None, piece: Callable[[int], str]
) -> list[BreakpointHit] | None:
    """The hits on one line's translation; None without --flag or without a translation."""
    if breakpoints is None or not isinstance(outcome, Translation):
        return None
    attention = outcome.attention
    source_length = len(outcome.source_pieces) if attention is None else attention.shape[-1]
    trace = HypothesisTrace.from_arrays(
        outcome.token_ids,
        outcome.token_log_probs,
        outcome.entropies,
        attention,
        source_length,
        labels=TraceLabels(piece=piece, source_pieces=outcome.source_pieces),
    )
    return breakpoints.scan(trace)


def flags_text(hits: Sequence[BreakpointHit]) -> str:
    """``flags: repeated_ngram@5, uncovered_at_eos@9``, or ``flags: none``."""
    return "flags: " + (", ".join(f"{h.condition}@{h.step}" for h in hits) or "none")


def flag_summary(flagged: Sequence[Sequence[str] | None], conditions: Sequence) -> str:
    """The stderr report: per condition asked, how many translated lines it flagged.

    flagged: per input line, the names of the conditions that fired on it (None for
    an empty or refused line, which is not counted).
    """
    lines = [names for names in flagged if names is not None]
    asked = list(dict.fromkeys(c.name for c in conditions))
    counts = ", ".join(
        f"{sum(name in names for names in lines)} {REPORT_NAMES[name]} ({name})" for name in asked
    )
    clean = sum(not names for names in lines)
    return f"attnscope: flags over {len(lines)} translated lines: {counts}; {clean} with none"
