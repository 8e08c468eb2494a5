"""The command line's text form of breakpoint conditions (``attnscope translate --flag``).

A spec is a comma-separated list of ``NAME`` or ``NAME=VALUE``; NAME is a
condition's name or its short alias, VALUE its main parameter (without it, the
condition's default)::

    repeated_ngram=3   (repeat)     n, tokens in the repeated n-gram
    uncovered_at_eos=0.2 (uncovered) coverage below which a source token is missed
    over_covered=2.5   (over)       coverage above which a source token is over-used
    no_eos=40 | no_eos=2x (no-eos)  tokens without EOS, or × the source length
    stuck_attention=4  (stuck)      steps on one source position
    entropy=3.0                     nats
    low_probability=0.1 (low-prob)  probability of the chosen token
    token=PIECE | token=#ID         a target subword (▁ optional), or a token id

``DEFAULT_SPEC`` is what ``--flag`` alone checks: the omission, over-translation,
repetition and runaway checks, which are rare on a good translation. Its values are
the conditions' own defaults (engine/debugger/conditions.py, also the Breakpoints
dock's), chosen on the default model's 12 example sentences: uncovered 0.5 flagged
10 of them and 0.2 two; over-covered 2.0 four and 2.5 none.
"""

from __future__ import annotations

import dataclasses

from attnscope.engine.debugger.conditions import (
    CONDITIONS,
    BreakpointCondition,
    LowProbability,
    NoEos,
    OverCovered,
    RepeatedNgram,
    StuckAttention,
    TokenProduced,
    UncoveredAtEos,
)

DEFAULT_SPEC = "repeated_ngram=3,uncovered_at_eos=0.2,over_covered=2.5,no_eos=2x"

ALIASES = {
    "repeat": RepeatedNgram.name,
    "uncovered": UncoveredAtEos.name,
    "over": OverCovered.name,
    "no-eos": NoEos.name,
    "stuck": StuckAttention.name,
    "low-prob": LowProbability.name,
}


def _number(text: str) -> int | float:
    """An int when the text is one, else a float; ValueError names the text."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def _condition(name: str, value: str | None) -> BreakpointCondition:
    """One condition from its name and the text of its main parameter (None: default)."""
    if name == NoEos.name:
        if value is None:
            return NoEos()
        if value.lower().endswith("x"):
            return NoEos(length_ratio=_number(value[:-1]))
        return NoEos(max_steps=_number(value), length_ratio=0.0)  # N tokens, and only that
    if name == TokenProduced.name:
        if not value:
            raise ValueError("token needs a value: token=PIECE or token=#ID")
        if value.startswith("#"):
            return TokenProduced(token_id=_number(value[1:]))
        return TokenProduced(piece=value)
    condition_class = CONDITIONS[name]
    if value is None:
        return condition_class()
    (parameter,) = (field.name for field in dataclasses.fields(condition_class))
    return condition_class(**{parameter: _number(value)})


def parse_conditions(spec: str) -> tuple[BreakpointCondition, ...]:
    """The conditions of a spec like ``repeat=3,uncovered,no-eos=2x``.

    Raises ValueError naming the item that is wrong (an unknown name lists the
    valid ones; a bad value says which parameter wanted what).
    """
    conditions: list[BreakpointCondition] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = ALIASES.get(name.strip(), name.strip())
        if name not in CONDITIONS:
            valid = ", ".join([*CONDITIONS, *ALIASES])
            raise ValueError(f"unknown condition {item!r} in --flag; valid: {valid}")
        try:
            conditions.append(_condition(name, value.strip() if sep else None))
        except ValueError as exc:
            raise ValueError(f"--flag {item!r}: {exc}") from None
    if not conditions:
        raise ValueError(f"--flag {spec!r} names no condition")
    return tuple(conditions)


__all__ = ["ALIASES", "DEFAULT_SPEC", "parse_conditions"]
