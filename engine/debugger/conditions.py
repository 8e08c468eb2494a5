"""Breakpoint conditions: what makes a Run stop, or ``translate --flag`` flag a line.

Each condition is a frozen dataclass whose parameters are validated when it is
built (a ValueError names the parameter and the value), with ``name`` (its kind
in the JSON form), ``describe()`` (what it watches, for the status bar and
tooltips), ``to_dict()`` / ``from_dict(d)`` (``{"kind": name, **parameters}``)
and ``check(trace, t)``: the message of a hit at position t of a
``HypothesisTrace``, or None. A check reads position t and the ones before it
only, and fires once where the thing happens, not again at every later step.
Messages count steps from 1, as the app's chips and the reference check do
(``BreakpointHit.step`` and ``translate --flag``'s ``@N`` are 0-based indices).

Conditions that read attention (``needs_attention``) never fire on a model
without attention; their ``describe()`` says so.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from attnscope.engine.debugger.coverage import word_coverage
from attnscope.engine.debugger.trace import NO_ID, HypothesisTrace
from attnscope.engine.decoding.config import EOS_ID

NEEDS_ATTENTION = " (reads the attention: never fires on a model without attention)"
MAX_LISTED = 3  # source positions named in one message
MAX_PIECE_CHARS = 200


def _number(name: str, value: Any, *, low: float, high: float, low_open: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (low_open and value == low):
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(f"{name} must be a finite number in {bound}, got {value!r}")
    return float(value)


def _integer(name: str, value: Any, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    return int(value)


class BreakpointCondition(ABC):
    """Base of the conditions; subclasses are frozen dataclasses."""

    name: ClassVar[str]
    needs_attention: ClassVar[bool] = False

    @abstractmethod
    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        """The hit's message when the condition fires at position t, else None."""

    @abstractmethod
    def _watches(self) -> str:
        """What the condition watches, in a few words."""

    def describe(self) -> str:
        """What the condition watches, for the status bar and tooltips."""
        return self._watches() + (NEEDS_ATTENTION if self.needs_attention else "")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.name, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: Any) -> BreakpointCondition:
        """The condition of a ``to_dict`` form; a ValueError names what is wrong."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a breakpoint must be a JSON object, got {type(d).__name__}")
        if d.get("kind", cls.name) != cls.name:
            raise ValueError(f"kind must be {cls.name!r}, got {d.get('kind')!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in d if key not in names and key != "kind")
        if unknown:
            raise ValueError(f"{cls.name} breakpoint has unknown fields: {', '.join(unknown)}")
        return cls(**{key: value for key, value in d.items() if key in names})

    def _set(self, field: str, value: Any) -> None:
        object.__setattr__(self, field, value)  # normalise a validated frozen field


@dataclass(frozen=True)
class EntropyAbove(BreakpointCondition):
    """The model is unsure: the entropy (nats) of its next-token distribution exceeds
    ``threshold`` (needs ``DecodeConfig.step_entropy``; sessions record it)."""

    threshold: float = 3.0
    name: ClassVar[str] = "entropy"

    def __post_init__(self) -> None:
        self._set("threshold", _number("threshold", self.threshold, low=0.0, high=1e3))

    def _watches(self) -> str:
        return f"entropy above {self.threshold:.2f} nats"

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        entropy = trace.entropies[t]
        if entropy > self.threshold:  # NaN (not recorded) never fires
            return f"entropy {entropy:.2f} > {self.threshold:.2f} at step {t + 1}"
        return None


@dataclass(frozen=True)
class LowProbability(BreakpointCondition):
    """The token taken had a probability below ``p``."""

    p: float = 0.1
    name: ClassVar[str] = "low_probability"

    def __post_init__(self) -> None:
        self._set("p", _number("p", self.p, low=0.0, high=1.0, low_open=True))

    def _watches(self) -> str:
        return f"chosen token's probability below {self.p:.3f}"

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        prob = trace.probs[t]
        if prob < self.p:
            return f"p({trace.piece(t)}) = {prob:.3f} < {self.p:.3f} at step {t + 1}"
        return None


@dataclass(frozen=True)
class RepeatedNgram(BreakpointCondition):
    """The output repeats one of its own n-grams; fires at the step that completes the
    repeat, once per run (a loop 'a b a b a b' fires where it starts)."""

    n: int = 3
    name: ClassVar[str] = "repeated_ngram"

    def __post_init__(self) -> None:
        self._set("n", _integer("n", self.n, low=1, high=50))

    def _watches(self) -> str:
        return f"a repeated {self.n}-gram"

    def _earlier(self, tokens: list[int], end: int) -> int | None:
        """Where the n-gram ending at ``end`` started before (latest), or None."""
        n = self.n
        if end < n:  # needs n tokens before it for an earlier occurrence
            return None
        gram = tokens[end - n + 1 : end + 1]
        if EOS_ID in gram:
            return None
        for start in range(end - n, -1, -1):
            if tokens[start] == gram[0] and tokens[start : start + n] == gram:
                return start
        return None

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        earlier = self._earlier(trace.tokens, t)
        if earlier is None or self._earlier(trace.tokens, t - 1) is not None:
            return None
        words = " ".join(trace.piece(i) for i in range(t - self.n + 1, t + 1))
        return (
            f"repeated {self.n}-gram {words} at step {t + 1} (seen at steps "
            f"{earlier + 1}–{earlier + self.n})"
        )


@dataclass(frozen=True)
class StuckAttention(BreakpointCondition):
    """The attention's strongest source position (heads averaged) stays the same for
    ``k`` steps; fires at the k-th, once per run."""

    k: int = 4
    name: ClassVar[str] = "stuck_attention"
    needs_attention: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._set("k", _integer("k", self.k, low=2, high=1000))

    def _watches(self) -> str:
        return f"attention stuck on one source position for {self.k} steps"

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        argmax = trace.argmax
        position = argmax[t]
        if position == NO_ID or t + 1 < self.k:
            return None
        start = t - self.k + 1
        if argmax[start] != position or argmax[start : t + 1].count(position) != self.k:
            return None
        if start > 0 and argmax[start - 1] == position:
            return None  # the run is longer: it fired at its k-th step
        label = trace.source_label(position)
        return f"attention stuck on {label} for {self.k} steps (steps {start}–{t})"


def _listed(
    trace: HypothesisTrace, positions: np.ndarray, coverage: np.ndarray, *, words: bool = False
) -> str:
    label = trace.word_label if words else trace.source_label
    shown = ", ".join(f"{label(int(s))} {coverage[s]:.2f}" for s in positions[:MAX_LISTED])
    more = len(positions) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class UncoveredAtEos(BreakpointCondition):
    """EOS is proposed (chosen, or the model's first candidate) while a source token's
    coverage is below ``threshold``: a likely omission. The text's own </s> is left out;
    when the source pieces are known a word counts as one token (its pieces' sum)."""

    # One default for the engine, the Breakpoints dock and translate --flag, chosen on the
    # default model's 12 example sentences: 0.5 flagged 10 of them, 0.2 two.
    threshold: float = 0.2
    name: ClassVar[str] = "uncovered_at_eos"
    needs_attention: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._set(
            "threshold", _number("threshold", self.threshold, low=0.0, high=1e3, low_open=True)
        )

    def _watches(self) -> str:
        return f"a source token covered less than {self.threshold:.2f} when EOS is proposed"

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        chosen = trace.tokens[t] == EOS_ID
        coverage = trace.coverage[t]
        if not (chosen or trace.top_ids[t] == EOS_ID) or coverage is None or not trace.content:
            return None
        coverage = coverage[: trace.content]
        words = trace.word_starts is not None
        if words:
            coverage = word_coverage(coverage, trace.word_starts)  # (W,)
        low = np.flatnonzero(coverage < self.threshold)
        if low.size == 0:
            return None
        low = low[np.argsort(coverage[low], kind="stable")]  # least covered first
        how = "chosen" if chosen else "proposed"
        return (
            f"eos {how} at step {t + 1} with {low.size} source {'word' if words else 'token'}(s) "
            f"covered < {self.threshold:.2f}: {_listed(trace, low, coverage, words=words)}"
        )


@dataclass(frozen=True)
class OverCovered(BreakpointCondition):
    """A source token's coverage climbs past ``tau``: a likely over-translation. Fires
    at the step it crosses; the text's own </s> and a leading <s> or language code (no
    word of the text, where Transformers often park attention) are left out."""

    # The same sentences: 2.0 flagged four, 2.5 none (engine, dock and --flag agree).
    tau: float = 2.5
    name: ClassVar[str] = "over_covered"
    needs_attention: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._set("tau", _number("tau", self.tau, low=0.0, high=1e4, low_open=True))

    def _watches(self) -> str:
        return f"a source token covered more than {self.tau:.2f}"

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        coverage = trace.coverage[t]
        if coverage is None or not trace.content:
            return None
        now = coverage[: trace.content]
        if trace.non_words is not None:
            now = np.where(trace.non_words, 0.0, now)
        if now.max() <= self.tau:  # the usual case, decided with one reduction
            return None
        crossed = now > self.tau
        if t > 0:
            crossed &= trace.coverage[t - 1][: trace.content] <= self.tau
        over = np.flatnonzero(crossed)
        if over.size == 0:
            return None
        over = over[np.argsort(-now[over], kind="stable")]
        return f"{_listed(trace, over, now)} covered > {self.tau:.2f} at step {t + 1}"


@dataclass(frozen=True)
class NoEos(BreakpointCondition):
    """The hypothesis goes past ``max_steps`` tokens, or past ``length_ratio`` × the
    source length (its tokens, </s> left out), without EOS; 0 turns a limit off, and
    with both set the smaller counts. Fires at the first token past the limit."""

    max_steps: int = 0
    # twice the source length, translate --flag's no_eos=2x (engine, dock and --flag
    # agree; ``NoEos()`` is usable alone)
    length_ratio: float = 2.0
    name: ClassVar[str] = "no_eos"

    def __post_init__(self) -> None:
        self._set("max_steps", _integer("max_steps", self.max_steps, low=0, high=100_000))
        ratio = _number("length_ratio", self.length_ratio, low=0.0, high=1e3)
        self._set("length_ratio", ratio)
        if not self.max_steps and not ratio:
            raise ValueError("no_eos needs max_steps or length_ratio above 0")

    def _watches(self) -> str:
        parts = []
        if self.max_steps:
            parts.append(f"{self.max_steps} tokens")
        if self.length_ratio:
            parts.append(f"{self.length_ratio:g} × the source length")
        return "no EOS after " + " or ".join(parts)

    def limit(self, content: int) -> int:
        """Tokens allowed without EOS for a source of ``content`` tokens."""
        limits = [self.max_steps] if self.max_steps else []
        if self.length_ratio:
            limits.append(math.ceil(self.length_ratio * max(content, 1)))
        return min(limits)

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        limit = self.limit(trace.content)
        if t != limit or trace.tokens[t] == EOS_ID:
            return None
        return f"no eos after {limit} tokens (source: {trace.content} tokens), step {t + 1}"


@dataclass(frozen=True)
class TokenProduced(BreakpointCondition):
    """A given target token is produced: by ``token_id``, or else by ``piece`` (the
    leading ▁ optional)."""

    piece: str = ""
    token_id: int | None = None
    name: ClassVar[str] = "token"

    def __post_init__(self) -> None:
        if not isinstance(self.piece, str) or len(self.piece) > MAX_PIECE_CHARS:
            raise ValueError(f"piece must be a string of at most {MAX_PIECE_CHARS} characters")
        if self.token_id is not None:
            self._set("token_id", _integer("token_id", self.token_id, low=0, high=2**31 - 1))
        if not self.piece and self.token_id is None:
            raise ValueError("token breakpoint needs a piece or a token_id")

    def _watches(self) -> str:
        return f"token {self.piece!r} produced" if self.piece else f"token {self.token_id} produced"

    def matches(self, trace: HypothesisTrace, t: int) -> bool:
        token = trace.tokens[t]
        if self.token_id is not None:
            return token == self.token_id
        piece = trace.piece_text(token)
        return piece is not None and piece in (self.piece, "▁" + self.piece)

    def check(self, trace: HypothesisTrace, t: int) -> str | None:
        if self.matches(trace, t):
            return f"{trace.piece(t)} produced at step {t + 1}"
        return None


CONDITIONS: dict[str, type[BreakpointCondition]] = {
    c.name: c
    for c in (
        EntropyAbove,
        LowProbability,
        RepeatedNgram,
        StuckAttention,
        UncoveredAtEos,
        OverCovered,
        NoEos,
        TokenProduced,
    )
}


def condition_from_dict(d: Any) -> BreakpointCondition:
    """The condition a ``to_dict`` form describes, by its ``kind``."""
    if not isinstance(d, Mapping):
        raise ValueError(f"a breakpoint must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind not in CONDITIONS:
        raise ValueError(f"unknown breakpoint kind {kind!r}; valid: {', '.join(CONDITIONS)}")
    return CONDITIONS[kind].from_dict(d)
