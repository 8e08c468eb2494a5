"""JSON from untrusted files, parsed with its nesting depth and number sizes bounded.

Python's ``json.loads`` turns a deeply nested document into a RecursionError
and an integer of thousands of digits into the ValueError of the int-string
limit, both far from the file that caused them; code that later walks or
prints such a value (``json.dumps(..., indent=2)``, ``repr``, ``f"{n:,}"``)
fails the same way. ``loads_bounded`` refuses both while parsing, with a
``JSONLimitError`` (a ValueError) of one line, so a caller names its file once.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64  # an AttnScope checkpoint header or metadata value nests 6 deep at most
MAX_NUMBER_CHARS = 64  # characters of one JSON number (2**64 has 20 digits)


class JSONLimitError(ValueError):
    """A JSON document nests deeper, or holds a longer number, than allowed."""


def _bounded_number(convert):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise JSONLimitError(
                f"holds a number of {len(text):,} characters (at most {MAX_NUMBER_CHARS})"
            )
        return convert(text)

    return parse


_PARSE_INT = _bounded_number(int)
_PARSE_FLOAT = _bounded_number(float)


def loads_bounded(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)`` refusing nesting over ``max_depth`` and over-long numbers.

    Raises ``json.JSONDecodeError`` for bad syntax and ``JSONLimitError`` for a
    limit (both ValueError; ``UnicodeDecodeError`` for bytes that are not UTF-8).
    """
    try:
        value = json.loads(text, parse_int=_PARSE_INT, parse_float=_PARSE_FLOAT)
    except RecursionError as exc:  # the C scanner's own limit (~1000 levels)
        raise JSONLimitError(f"nests deeper than {max_depth} levels") from exc
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JSONLimitError if lists/dicts in ``value`` nest deeper than ``max_depth``.

    Iterative, so checking a hostile value cannot itself exhaust the stack.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            raise JSONLimitError(f"nests deeper than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
