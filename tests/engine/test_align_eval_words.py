"""Pieces grouped into a gold file's words by characters (engine/explain/word_links.py)."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.engine.explain.word_links import (
    NO_WORD,
    diagonal_links,
    join_words,
    piece_words,
    word_links,
    word_matrix,
)


def test_words_are_joined_as_running_text():
    assert join_words(["土卫六", "上", "存在", "。"]) == "土卫六上存在。"
    assert join_words(["新华社", "5月", "22日", "电"]) == "新华社5月22日电"
    assert join_words(["APEC", "会议"]) == "APEC会议"
    assert join_words(["on", "titan", "."]) == "on titan."
    assert join_words(["eu", "'s", "pledge", ",", "(", "reporter", ")"]) == (
        "eu's pledge, (reporter)"
    )
    assert join_words(["do", "n't"]) == "don't"


def test_pre_segmented_chinese_maps_by_characters_not_by_the_word_mark():
    # the tokenizer never saw the spaces: only the first piece carries "▁", and "喀布"
    # and "22" do not follow the words' borders of their own
    words = ["新华社", "喀布尔", "5月", "22日"]
    pieces = ["▁", "新", "华社", "喀布", "尔", "5", "月", "2", "2", "日", "</s>"]
    assert piece_words(pieces, words) == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3, NO_WORD]


def test_the_tokenizers_nfkc_normalisation_is_undone():
    words = ["（", "记者", "）", "ＡＢＣ"]  # full-width forms; the pieces hold ASCII
    pieces = ["▁(", "记", "者", ")", "AB", "C", "</s>"]
    assert piece_words(pieces, words) == [0, 1, 1, 2, 3, 3, NO_WORD]


def test_a_piece_spanning_two_words_goes_to_the_one_holding_most_of_it():
    words = ["dr.", "ashraf", "'s"]
    pieces = ["▁d", "r.", "▁ash", "raf'", "s"]
    assert piece_words(pieces, words) == [0, 0, 1, 1, 2]


def test_unmatched_pieces_join_the_next_word_else_the_previous():
    words = ["a", "b"]
    pieces = ["▁", "a", "▁", "X", "b", "▁", "</s>"]  # "X" is in no word
    assert piece_words(pieces, words) == [0, 0, 1, 1, 1, 1, NO_WORD]


def test_word_matrix_sums_source_pieces_and_averages_target_pieces():
    matrix = np.array(
        [
            [0.1, 0.2, 0.3, 0.4],
            [0.3, 0.3, 0.2, 0.2],
            [0.0, 0.0, 0.5, 0.5],
        ]
    )  # (T=3 pieces, S=4 pieces)
    words = word_matrix(matrix, [0, 0, 1], [0, 0, 1, NO_WORD], (2, 3))
    np.testing.assert_allclose(words[:, :2], [[0.45, 0.25], [0.0, 0.5]])
    assert np.isnan(words[:, 2]).all()  # a source word without pieces gets no weight


def test_link_rules_on_a_hand_made_matrix():
    source_pieces = ("▁ein", "▁mann", "▁fähr", "t", "</s>")
    target_pieces = ("▁a", "▁man", "▁ride", "s")
    source_words, target_words = ("ein", "mann", "fährt"), ("a", "man", "rides")
    matrix = np.array(
        [
            [0.7, 0.1, 0.1, 0.0, 0.1],
            [0.1, 0.8, 0.0, 0.0, 0.1],
            [0.3, 0.0, 0.2, 0.2, 0.3],  # ride: piece "▁ein" highest, word "fährt" (0.4)
            [0.0, 0.5, 0.0, 0.0, 0.5],  # s: eos is never linked, so "▁mann"
        ]
    )
    named = {
        "source_pieces": source_pieces,
        "target_pieces": target_pieces,
        "source_words": source_words,
        "target_words": target_words,
    }
    assert word_links(matrix, **named, rule="pieces") == {(0, 0), (1, 1), (0, 2), (1, 2)}
    # words: ride+s averaged = [0.15, 0.25, 0.2] over ein / mann / fährt
    assert word_links(matrix, **named, rule="words") == {(0, 0), (1, 1), (1, 2)}
    # mann's column peaks at "man" (0.8), so (1, 2) is not kept by the intersection
    assert word_links(matrix, **named, rule="intersect") == {(0, 0), (1, 1)}
    with pytest.raises(ValueError, match="unknown link rule 'best'; valid: pieces, words"):
        word_links(matrix, **named, rule="best")
    with pytest.raises(ValueError, match="does not fit 4 target and 5 source pieces"):
        word_links(matrix[:, :3], **named)


def test_the_diagonal_baseline_links_by_relative_place():
    assert diagonal_links(3, 3) == {(0, 0), (1, 1), (2, 2)}
    assert diagonal_links(2, 4) == {(0, 0), (0, 1), (1, 2), (1, 3)}
    assert diagonal_links(4, 2) == {(1, 0), (3, 1)}
