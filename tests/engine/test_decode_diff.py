"""The word diff of two decodes, on hand-made sentencepiece pieces."""

import math

import pytest

from attnscope.engine.decode_diff import diff_outputs, group_words


def _lp(*probs):
    return [math.log(p) for p in probs]


def test_pieces_group_into_words_with_product_probabilities():
    words = group_words(["▁a", "▁wo", "man", "</s>"], _lp(0.9, 0.5, 0.8, 0.99))
    assert [w.text for w in words] == ["a", "woman"]
    assert words[1].probability == pytest.approx(0.4)
    assert words[1].steps == (1, 2)


def test_unk_is_its_own_word_and_eos_joins_nothing():
    words = group_words(["▁a", "<unk>", "s", "</s>", "x"], _lp(0.5, 0.5, 0.5, 0.5, 0.5))
    assert [w.text for w in words] == ["a", "<unk>", "s", "x"]


def test_identical_decodes_are_unchanged():
    pieces, lps = ["▁a", "▁dog", "</s>"], _lp(0.9, 0.6, 0.9)
    diff = diff_outputs(pieces, lps, pieces, lps)
    assert not diff.changed
    assert [op.kind for op in diff.ops] == ["equal"]
    assert diff.describe() == "no word changed (2 words)"
    assert diff.changed_after() == (False, False)


def test_replace_names_both_words_and_probabilities():
    diff = diff_outputs(
        ["▁a", "▁man", "▁runs", "</s>"],
        _lp(0.9, 0.62, 0.7, 0.9),
        ["▁a", "▁wo", "man", "▁runs", "</s>"],
        _lp(0.9, 0.5, 0.82, 0.7, 0.9),
    )
    assert diff.changed
    assert [op.kind for op in diff.ops] == ["equal", "replace", "equal"]
    assert diff.describe() == "man → woman (p 0.62 → 0.41)"
    assert diff.changed_after() == (False, True, False)
    assert diff.changed_before() == (False, True, False)


def test_insert_and_delete():
    diff = diff_outputs(
        ["▁a", "▁big", "▁dog"],
        _lp(0.9, 0.3, 0.8),
        ["▁a", "▁dog", "▁runs"],
        _lp(0.9, 0.8, 0.5),
    )
    kinds = [op.kind for op in diff.ops]
    assert kinds == ["equal", "delete", "equal", "insert"]
    assert diff.describe() == "− 'big' (p 0.30); + 'runs' (p 0.50)"
    assert diff.changed_after() == (False, False, True)


def test_multi_word_replace_uses_the_span_probability():
    diff = diff_outputs(["▁red", "▁circle"], _lp(0.5, 0.5), ["▁blue", "▁square"], _lp(0.8, 0.5))
    assert diff.describe() == "red circle → blue square (p 0.25 → 0.40)"


def test_empty_hypotheses():
    diff = diff_outputs([], [], ["▁dog"], _lp(0.5))
    assert diff.describe() == "+ 'dog' (p 0.50)"
    assert not diff_outputs([], [], [], []).changed


def test_to_dict_is_plain_data():
    data = diff_outputs(["▁a"], _lp(0.5), ["▁b"], _lp(0.25)).to_dict()
    assert data["changed"] is True
    assert data["ops"][0]["before"][0] == {"text": "a", "probability": 0.5, "steps": [0]}


@pytest.mark.parametrize(
    ("pieces", "log_probs", "message"),
    [
        (["▁a", "▁b"], [0.0], "2 pieces but 1 log-probabilities"),
        (["▁a"], [0.5], "is not ≤ 0"),
        (["▁a"], [float("nan")], "is not ≤ 0"),
    ],
)
def test_bad_inputs_raise_a_clear_value_error(pieces, log_probs, message):
    with pytest.raises(ValueError, match=message):
        diff_outputs(pieces, log_probs, ["▁a"], [0.0])
