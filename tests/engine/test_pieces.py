"""Every tokenizer's pieces in the app's one convention, and words grouped by it."""

from __future__ import annotations

import pytest

from attnscope.engine.alignment import hard_alignment, word_index
from attnscope.engine.pieces import (
    BYTE_LEVEL,
    SENTENCEPIECE,
    WORDPIECE,
    readable_piece,
    word_convention,
)


@pytest.mark.parametrize(
    ("convention", "raw", "shown", "words"),
    [
        (
            SENTENCEPIECE,
            ["▁the", "▁cat", "s", "</s>"],
            ["▁the", "▁cat", "s", "</s>"],
            [0, 1, 1, -1],
        ),
        # byte-level BPE: no space before the first word; "é" is two bytes, "Ã©"
        (
            BYTE_LEVEL,
            ["the", "Ġcat", "s", "Ġcaf", "Ã©"],
            ["the", "▁cat", "s", "▁caf", "é"],
            [0, 1, 1, 2, 2],
        ),
        (WORDPIECE, ["the", "cat", "##s", "sat"], ["▁the", "▁cat", "s", "▁sat"], [0, 1, 1, 2]),
    ],
)
def test_pieces_read_in_one_convention_and_group_into_words(convention, raw, shown, words):
    readable = [p if p == "</s>" else readable_piece(p, convention) for p in raw]
    assert readable == shown
    assert word_index(readable) == words


def test_a_byte_that_completes_no_character_reads_as_its_value():
    assert readable_piece("Ã", BYTE_LEVEL) == "<0xC3>"  # the first byte of "é" alone
    assert readable_piece("Ġ", BYTE_LEVEL) == "▁"
    assert readable_piece("<s>", BYTE_LEVEL) == "<s>"  # only printable bytes: unchanged
    assert readable_piece("[CLS]x", BYTE_LEVEL) == "[CLS]x"
    with pytest.raises(ValueError, match="unknown word convention 'bpe'"):
        readable_piece("x", "bpe")


def test_the_convention_is_read_off_the_vocabulary():
    assert word_convention(["<unk>", "▁the", "▁cat", "s"]) == SENTENCEPIECE
    assert word_convention(["<s>", "the", "Ġthe", "Ġcat", "s"]) == BYTE_LEVEL
    assert word_convention(["[CLS]", "the", "cat", "##s"]) == WORDPIECE
    assert word_convention(["the", "cat"]) == WORDPIECE  # word-level: every piece a word


def test_a_leading_bos_is_no_word_and_alignments_count_whitespace_words():
    """A BART source reads "<s> the ▁cat s </s>": two words, 0 and 1."""
    source = ("<s>", "the", "▁cat", "s", "</s>")
    target = ("▁die", "▁Katze", "n")
    assert word_index(source) == [-1, 0, 1, 1, -1]
    attention = [
        [0.1, 0.6, 0.1, 0.1, 0.1],  # "die" -> "the"
        [0.1, 0.1, 0.2, 0.5, 0.1],  # "Katze" -> "s" of "cats"
        [0.1, 0.1, 0.6, 0.1, 0.1],  # "n" -> "cat"
    ]
    assert hard_alignment(attention, source, target) == [(0, 0), (1, 1)]


def test_per_word_attention_keeps_a_leading_bos_apart_from_the_words():
    """Two BART-like decodes (a leading <s> on both sides, no eos yet in the outputs),
    segmented differently, compared per word: <s> is a group of its own."""
    import numpy as np

    from attnscope.engine.compare.attention import WORD_LEVEL, compare_attention
    from attnscope.engine.inference_results import SessionSnapshot

    def shown(source, target, attention):
        weights = np.asarray(attention, dtype=np.float32)  # (T, 1 head, S)
        return SessionSnapshot(
            source_text="the cat",
            source_pieces=tuple(source),
            target_pieces=tuple(target),
            target_text="xy",
            steps=(),
            attention=weights,
            num_heads=1,
            done=False,
            strategy="greedy",
        )

    a = shown(["<s>", "the", "▁cat", "</s>"], ["<s>", "▁x", "y"], [[[0.4, 0.3, 0.2, 0.1]]] * 3)
    b = shown(["<s>", "the", "▁c", "at", "</s>"], ["<s>", "▁xy"], [[[0.4, 0.3, 0.1, 0.1, 0.1]]] * 2)
    comparison = compare_attention(a, b)
    assert comparison.level == WORD_LEVEL
    assert comparison.columns == ("the", "cat", "</s>") and comparison.rows == ("xy", "<s>")
    np.testing.assert_allclose(comparison.a, [[0.3, 0.2, 0.5]] * 2, atol=1e-6)  # <s> with eos
    np.testing.assert_allclose(comparison.jsd, 0.0, atol=1e-6)
