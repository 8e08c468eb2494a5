"""engine/languages.py: ISO 639 codes checked, and read as "German → English"."""

import pytest

from attnscope.engine.languages import (
    check_language_code,
    language_entries,
    language_name,
    language_pair,
)


def test_pairs_read_as_names():
    info = {"source_language": "de", "target_language": "en"}
    assert language_pair("translation", info) == "German → English"
    assert language_pair("translation", {**info, "source_language": "zh"}) == "Chinese → English"
    assert language_pair("captioning", {"target_language": "en"}) == "image → English"


def test_unknown_and_subtagged_codes_read_as_themselves():
    assert language_name("xx") == "xx"
    assert language_name("zh-Hans") == "Chinese (zh-Hans)"


@pytest.mark.parametrize(
    "info",
    [
        {},
        {"source_language": "de"},
        {"target_language": "en"},  # a translator needs both
        {"source_language": "de", "target_language": "<b>English</b>"},
        {"source_language": ["de"], "target_language": "en"},
        {"source_language": "d" * 10_000, "target_language": "en"},
    ],
)
def test_missing_or_malformed_codes_show_nothing(info):
    assert language_pair("translation", info) is None


@pytest.mark.parametrize("code", ["German", "DE", "d", "de_DE", "", None, 7, "de-"])
def test_bad_codes_are_refused_naming_the_field(code):
    with pytest.raises(ValueError, match="source language must be an ISO 639 code"):
        check_language_code(code, "source language")


def test_entries_for_a_pair_and_for_a_captioner():
    assert language_entries("translation", "de", "en") == {
        "source_language": "de",
        "target_language": "en",
    }
    assert language_entries("captioning", None, "en") == {"target_language": "en"}
    with pytest.raises(ValueError, match="image"):
        language_entries("captioning", "de", "en")
