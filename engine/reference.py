"""Force a reference translation (or caption) through the model and say where it disagrees.

"Why did the model not say X?" The reference is tokenized with the model's
target tokenizer and every piece (then eos) is forced, one step at a time, in
a greedy session: each step keeps the model's own probabilities and its top
alternatives, so the views show the reference's attention and, step by step,
what the model would have said instead. ``ReferenceReport`` sums it up against
the model's own decode with the user's settings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from attnscope.engine.decoding import EOS_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.pieces import WORD_START

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.snapshot import OpenSession

SHOWN_DISAGREEMENTS = 3  # the message names at most this many steps


@dataclass(frozen=True)
class Disagreement:
    """A step where the model's first choice was not the reference's piece."""

    step: int
    reference: str
    reference_prob: float
    model: str
    model_prob: float


@dataclass(frozen=True)
class ReferenceReport:
    """How likely the model finds the reference, and where it would have said otherwise.

    log_prob: sum of ``token_log_probs``, one per reference piece and eos; own_*: the
    model's own best hypothesis under the user's settings (the same sum, no length
    penalty), None when it was not decoded.
    """

    pieces: tuple[str, ...]
    token_log_probs: tuple[float, ...]
    unknown: tuple[str, ...]  # the reference's text pieces the target vocabulary lacks
    disagreements: tuple[Disagreement, ...]
    own_text: str | None = None
    own_log_prob: float | None = None
    own_length: int | None = None

    @property
    def log_prob(self) -> float:
        return sum(self.token_log_probs)

    @property
    def perplexity(self) -> float:
        """exp of the mean negative log-prob per piece; inf when that overflows (a reference
        the model finds all but impossible), never an OverflowError."""
        return safe_exp(-self.log_prob / max(len(self.pieces), 1))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what `attnscope score --json` and the decode
        export write); log-probs rounded to 5 decimals."""
        return {
            "tokens": list(self.pieces),
            "token_log_probs": [round(v, 5) for v in self.token_log_probs],
            "log_prob": round(self.log_prob, 5),
            "perplexity": _finite_or_none(round(self.perplexity, 5)),
            "disagreements": [asdict(d) for d in self.disagreements],
            "unknown": list(self.unknown),
            "model_output": self.own_text,
            "model_log_prob": self.own_log_prob,
        }

    def describe(self) -> str:
        """One paragraph for the message bar or the command line."""
        tokens = len(self.pieces)
        text = (
            f"Reference: log-prob {self.log_prob:.2f} over {tokens} tokens "
            f"(perplexity {self.perplexity:.2f})"
        )
        if self.own_log_prob is not None:
            text += f"; the model's own output: {self.own_log_prob:.2f} over {self.own_length}"
            text += " tokens"
        text += "."
        if self.unknown:
            shown = ", ".join(f"“{_word(piece)}”" for piece in self.unknown)
            text += f" Not in the target vocabulary (the model reads <unk>): {shown}."
        if not self.disagreements:
            return text + " The model's first choice matched the reference at every step."
        shown = "; ".join(
            f"step {d.step + 1}: “{_word(d.model)}” {_percent(d.model_prob)} over "
            f"“{_word(d.reference)}” {_percent(d.reference_prob)}"
            for d in self.disagreements[:SHOWN_DISAGREEMENTS]
        )
        more = len(self.disagreements) - SHOWN_DISAGREEMENTS
        tail = f" and {more} more" if more > 0 else ""
        return (
            f"{text} The model preferred another token at {len(self.disagreements)} of "
            f"{tokens} steps ({shown}{tail})."
        )


def safe_exp(value: float) -> float:
    """math.exp that returns inf instead of raising OverflowError (NaN stays NaN)."""
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def _finite_or_none(value: float) -> float | None:
    """JSON has no inf: an infinite perplexity is written as null."""
    return value if math.isfinite(value) else None


def _word(piece: str) -> str:
    """A piece as the views show it: without sentencepiece's word-start mark."""
    return piece.lstrip(WORD_START) or piece


def _percent(probability: float) -> str:
    return f"{probability:.0%}" if probability >= 0.01 else "<1%"


def forced_config(config: DecodeConfig, length: int) -> DecodeConfig:
    """Greedy without rules, room for ``length`` tokens and eos (and for the model to go
    on after a token forced in place of one of them, up to the user's maximum)."""
    return DecodeConfig(
        strategy="greedy",
        max_length=max(config.max_length, length + 1),
        max_length_ratio=0.0,
        topk_alternatives=config.topk_alternatives,
    )


def force_reference(
    model: InferenceModel,
    source: Any,
    config: DecodeConfig,
    reference: str,
    *,
    cancel: CancelFlag | None = None,
    compare: bool = True,
) -> tuple[OpenSession, ReferenceReport]:
    """Open a session on ``source`` that takes ``reference``; returns (session, report).

    config: the user's settings (for the model's own decode to compare with, when
    ``compare``); cancel: a callable or Event, checked between steps.
    """
    ids = model.target_ids(reference)
    opened = model.open_session(source, forced_config(config, len(ids)))
    plan = [*ids, EOS_ID]
    opened.session.steps(until=len(plan), plan=plan, cancel=cancel).run()
    own = None
    if compare:
        own = model.open_session(source, replace(config, n_best=1))
        own.session.steps(cancel=cancel).run()
    unknown = tuple(
        piece
        for piece, token in zip(model.tgt_tokenizer.pieces(reference), ids, strict=False)
        if token == UNK_ID
    )
    own_snapshot = own.snapshot() if own is not None else None
    return opened, _report(opened.snapshot(), own_snapshot, unknown)


def _report(forced, own, unknown: tuple[str, ...]) -> ReferenceReport:
    disagreements = []
    for index, step in enumerate(forced.steps):
        best = int(step.topk_ids[0]) if len(step.topk_ids) else step.token_id
        if best != step.token_id:
            disagreements.append(
                Disagreement(
                    step=index,
                    reference=step.piece,
                    reference_prob=math.exp(step.log_prob),
                    model=step.topk_pieces[0],
                    model_prob=float(step.topk_probs[0]),
                )
            )
    report = ReferenceReport(
        pieces=forced.target_pieces,
        token_log_probs=tuple(step.log_prob for step in forced.steps),
        unknown=unknown,
        disagreements=tuple(disagreements),
    )
    if own is None:
        return report
    return replace(
        report,
        own_text=own.target_text,
        own_log_prob=sum(step.log_prob for step in own.steps),
        own_length=len(own.steps),
    )
