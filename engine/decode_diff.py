"""Word-level diff of two decodes: what an intervention changed in the output.

The text what-if (an attention edit, a forced token) and the image what-if (a
masked picture) both end with two hypotheses over the same vocabulary, the
original and the re-decode. Users read captions and translations in words, not
sentencepiece pieces, so the pieces are grouped into words first (a piece
starting with ``▁`` starts a word; ``</s>`` belongs to no word; other control
pieces such as ``<unk>`` are words of their own), and the word sequences are
diffed with difflib. A word's probability is the product of its pieces'
probabilities, i.e. ``exp(sum of their log-probs)``.

``diff_outputs(...).describe()`` gives one readable line, for example
``man → woman (p 0.62 → 0.41); + 'red'``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from attnscope.engine.pieces import EOS_PIECE, WORD_START

OP_KINDS = ("equal", "replace", "insert", "delete")


@dataclass(frozen=True)
class DecodedWord:
    """One word of a hypothesis: its text, probability and the decode steps of its pieces."""

    text: str
    probability: float
    steps: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"text": self.text, "probability": self.probability, "steps": list(self.steps)}


@dataclass(frozen=True)
class DiffOp:
    """One edit turning the ``before`` words into the ``after`` words.

    kind:   "equal", "replace", "insert" (before is empty) or "delete" (after is empty)
    before: the original words this op covers, in order
    after:  the re-decoded words this op covers, in order
    """

    kind: str
    before: tuple[DecodedWord, ...]
    after: tuple[DecodedWord, ...]

    @property
    def before_text(self) -> str:
        return " ".join(word.text for word in self.before)

    @property
    def after_text(self) -> str:
        return " ".join(word.text for word in self.after)

    @property
    def before_probability(self) -> float:
        """Product of the ``before`` words' probabilities (1.0 for none)."""
        return math.prod(word.probability for word in self.before)

    @property
    def after_probability(self) -> float:
        """Product of the ``after`` words' probabilities (1.0 for none)."""
        return math.prod(word.probability for word in self.after)

    def describe(self) -> str:
        """One fragment: ``a → b (p 0.62 → 0.41)``, ``+ 'b'``, ``− 'a'``, or the equal words."""
        if self.kind == "replace":
            return (
                f"{self.before_text} → {self.after_text} "
                f"(p {self.before_probability:.2f} → {self.after_probability:.2f})"
            )
        if self.kind == "insert":
            return f"+ '{self.after_text}' (p {self.after_probability:.2f})"
        if self.kind == "delete":
            return f"− '{self.before_text}' (p {self.before_probability:.2f})"
        return self.before_text

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "before": [word.to_dict() for word in self.before],
            "after": [word.to_dict() for word in self.after],
        }


@dataclass(frozen=True)
class DecodeDiff:
    """The word diff of two hypotheses; ``ops`` cover both word sequences in order."""

    before: tuple[DecodedWord, ...]
    after: tuple[DecodedWord, ...]
    ops: tuple[DiffOp, ...]

    @property
    def changed(self) -> bool:
        """True when any word was replaced, inserted or deleted."""
        return any(op.kind != "equal" for op in self.ops)

    @property
    def changes(self) -> tuple[DiffOp, ...]:
        """The ops that are not "equal"."""
        return tuple(op for op in self.ops if op.kind != "equal")

    def changed_after(self) -> tuple[bool, ...]:
        """Per word of ``after``: is it part of a replace or insert (to highlight it)?"""
        return tuple(op.kind != "equal" for op in self.ops for _ in op.after)

    def changed_before(self) -> tuple[bool, ...]:
        """Per word of ``before``: is it part of a replace or delete?"""
        return tuple(op.kind != "equal" for op in self.ops for _ in op.before)

    def describe(self) -> str:
        """One line naming each change, e.g. ``man → woman (p 0.62 → 0.41); + 'red' (p 0.30)``."""
        if not self.changed:
            return f"no word changed ({len(self.after)} words)"
        return "; ".join(op.describe() for op in self.changes)

    def to_dict(self) -> dict:
        return {
            "changed": self.changed,
            "describe": self.describe(),
            "ops": [op.to_dict() for op in self.ops],
        }


def group_words(pieces: Sequence[str], log_probs: Sequence[float]) -> tuple[DecodedWord, ...]:
    """Group one hypothesis's pieces (one per decode step) into words.

    ``log_probs[i]`` is the natural-log probability of ``pieces[i]``. ``</s>``
    ends no word and joins none; a control piece like ``<unk>`` is its own word.
    """
    if len(pieces) != len(log_probs):
        raise ValueError(
            f"{len(pieces)} pieces but {len(log_probs)} log-probabilities; "
            "each piece needs its own log-probability"
        )
    words: list[tuple[str, float, list[int]]] = []
    joinable = False  # may the next non-marked piece continue the last word?
    for step, (piece, log_prob) in enumerate(zip(pieces, log_probs, strict=True)):
        value = float(log_prob)
        if math.isnan(value) or value > 1e-6:
            raise ValueError(f"log-probability {value!r} of piece {step} ({piece!r}) is not ≤ 0")
        if piece == EOS_PIECE:
            joinable = False
            continue
        control = piece.startswith("<") and piece.endswith(">")
        if joinable and not control and not piece.startswith(WORD_START):
            text, total, steps = words[-1]
            words[-1] = (text + piece, total + value, [*steps, step])
        else:
            words.append((piece.lstrip(WORD_START) or piece, value, [step]))
        joinable = not control
    return tuple(
        DecodedWord(text=text, probability=math.exp(total), steps=tuple(steps))
        for text, total, steps in words
    )


def diff_outputs(
    before_pieces: Sequence[str],
    before_log_probs: Sequence[float],
    after_pieces: Sequence[str],
    after_log_probs: Sequence[float],
) -> DecodeDiff:
    """Diff two hypotheses word by word (difflib over the word texts, no junk heuristic).

    Each list holds one entry per decode step: the piece and its log-probability
    under the model that produced it. Raises ValueError when a list pair differs
    in length or a log-probability is not a log of a probability.
    """
    before = group_words(before_pieces, before_log_probs)
    after = group_words(after_pieces, after_log_probs)
    matcher = difflib.SequenceMatcher(
        a=[word.text for word in before], b=[word.text for word in after], autojunk=False
    )
    ops = tuple(
        DiffOp(kind=tag, before=before[i0:i1], after=after[j0:j1])
        for tag, i0, i1, j0, j1 in matcher.get_opcodes()
    )
    return DecodeDiff(before=before, after=after, ops=ops)
