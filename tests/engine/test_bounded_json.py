"""JSON from untrusted files: nesting depth and number length are bounded while parsing."""

from __future__ import annotations

import json

import pytest

from attnscope.engine.bounded_json import (
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    JSONLimitError,
    check_depth,
    loads_bounded,
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_depth_up_to_the_limit_parses_and_one_more_is_refused():
    assert loads_bounded(_nested(MAX_JSON_DEPTH)) == json.loads(_nested(MAX_JSON_DEPTH))
    with pytest.raises(JSONLimitError, match=f"nests deeper than {MAX_JSON_DEPTH} levels"):
        loads_bounded(_nested(MAX_JSON_DEPTH + 1))


@pytest.mark.parametrize("depth", [900, 100_000, 1_000_000])
def test_nesting_past_the_parsers_own_limit_is_the_same_refusal(depth):
    with pytest.raises(JSONLimitError, match="nests deeper"):
        loads_bounded('{"a": ' + _nested(depth) + "}")


@pytest.mark.parametrize(
    "number", ["9" * (MAX_NUMBER_CHARS + 1), "9" * 5000, "-" + "1" * 4400, "0." + "5" * 5000]
)
def test_long_numbers_are_refused_before_conversion(number):
    with pytest.raises(JSONLimitError, match=f"number of {len(number):,} characters"):
        loads_bounded('{"x": [' + number + "]}")


def test_numbers_within_the_limit_keep_their_values():
    text = json.dumps({"a": 2**64, "b": -(2**63), "c": 1.5e300, "d": [1, 2.5]})
    assert loads_bounded(text) == json.loads(text)
    assert loads_bounded("9" * MAX_NUMBER_CHARS) == int("9" * MAX_NUMBER_CHARS)


def test_bad_syntax_is_still_a_json_decode_error():
    with pytest.raises(json.JSONDecodeError):
        loads_bounded('{"a": ')


def test_depth_check_of_a_built_value_needs_no_recursion():
    value: list = []
    for _ in range(50_000):
        value = [value]
    with pytest.raises(JSONLimitError):
        check_depth(value)
    check_depth({"a": [{"b": 1}]})
