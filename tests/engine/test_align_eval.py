"""Gold alignments and AER (engine/explain/aer.py): parsing, known answers, every refusal."""

from __future__ import annotations

import pytest

from attnscope.engine.errors import AttnScopeError, DataError
from attnscope.engine.explain.aer import (
    AlignmentCounts,
    GoldLinks,
    WordPair,
    count_links,
    parse_gold,
    parse_pair,
    pharaoh_links,
    read_gold_set,
)

PAIR = WordPair(("ein", "mann", "fährt"), ("a", "man", "rides", "by"))


def test_aer_precision_and_recall_on_a_hand_made_set():
    gold = GoldLinks(sure=frozenset({(0, 0), (1, 1)}), possible=frozenset({(0, 0), (1, 1), (2, 1)}))
    counts = count_links({(0, 0), (2, 1), (2, 2)}, gold)
    # |A| = 3, |S| = 2, |A∩S| = 1 ((0,0)), |A∩P| = 2 ((0,0), (2,1))
    assert counts == AlignmentCounts(predicted=3, sure=2, sure_hits=1, possible_hits=2)
    assert counts.aer == pytest.approx(1 - 3 / 5)
    assert counts.precision == pytest.approx(2 / 3)
    assert counts.recall == pytest.approx(1 / 2)
    assert count_links(gold.sure, gold).aer == 0.0  # the sure links alone are perfect
    assert count_links(set(), gold).aer == 1.0


def test_counts_are_summed_over_the_corpus_before_dividing():
    first = AlignmentCounts(predicted=1, sure=1, sure_hits=1, possible_hits=1)  # AER 0
    second = AlignmentCounts(predicted=3, sure=3, sure_hits=0, possible_hits=0)  # AER 1
    assert (first + second).aer == pytest.approx(1 - 2 / 8)  # not the mean of 0 and 1


def test_pharaoh_lines_sure_possible_and_one_based():
    gold = parse_gold("1-1 2-2 3p3 3-4", PAIR, one_based=True, name="g", number=1)
    assert gold.sure == {(0, 0), (1, 1), (2, 3)}
    assert gold.possible == {(0, 0), (1, 1), (2, 2), (2, 3)}  # possible includes sure
    zero = parse_gold("0-0 1-1 2p2 2-3", PAIR, one_based=False, name="g", number=1)
    assert zero == gold
    assert pharaoh_links({(2, 3), (0, 0)}, one_based=True) == "1-1 3-4"


@pytest.mark.parametrize(
    ("line", "one_based", "expected"),
    [
        ("0-0 1x2", False, "gold-file line 7: '1x2' is not a Pharaoh link"),
        ("0-0 1-", False, "gold-file line 7: '1-' is not a Pharaoh link"),
        (
            "0-0 3-1",
            False,
            "names source word 3 but the pair has 3 source words (0-based); "
            "are the links 1-based? then add --one-based",
        ),
        ("0-4", False, "names target word 4 but the pair has 4 target words"),
        (
            "0-0",
            True,
            "names source word 0 but the pair has 3 source words (1-based); are the links 0-based?",
        ),
        ("", False, "gold-file line 7 is empty"),
    ],
)
def test_a_bad_gold_line_names_file_line_and_link(line, one_based, expected):
    with pytest.raises(DataError) as caught:
        parse_gold(line, PAIR, one_based=one_based, name="gold-file", number=7)
    assert expected in str(caught.value)
    assert isinstance(caught.value, AttnScopeError)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", "pairs-file line 3 is empty"),
        ("   ", "pairs-file line 3 is empty"),
        ("ein mann", "pairs-file line 3 has 0 '|||' separators"),
        ("a ||| b ||| c", "pairs-file line 3 has 2 '|||' separators"),
        (" ||| a man", "pairs-file line 3 has no source words"),
        ("ein mann ||| ", "pairs-file line 3 has no target words"),
        ("w " * 1001 + "||| a", "pairs-file line 3 has 1,001 source words; at most 1,000"),
    ],
)
def test_a_bad_pair_line_names_file_and_line(line, expected):
    with pytest.raises(DataError, match="pairs-file line 3") as caught:
        parse_pair(line, name="pairs-file", number=3)
    assert expected in str(caught.value)


def test_a_gold_set_needs_one_gold_line_per_pair_and_some_pairs():
    pairs = ["ein mann ||| a man", "zwei ||| two"]
    with pytest.raises(DataError, match="P has 2 lines but G has 1"):
        read_gold_set(pairs, ["0-0"], one_based=False, pairs_name="P", gold_name="G")
    with pytest.raises(DataError, match="P holds no pairs"):
        read_gold_set([], [], one_based=False, pairs_name="P", gold_name="G")
    with pytest.raises(DataError, match="G line 2: link 1-0 names source word 1"):
        read_gold_set(pairs, ["0-0 1-1", "1-0"], one_based=False, pairs_name="P", gold_name="G")
    entries = read_gold_set(
        pairs, ["0-0 1-1", "0-0"], one_based=False, pairs_name="P", gold_name="G"
    )
    assert [pair.target for pair, _ in entries] == [("a", "man"), ("two",)]
