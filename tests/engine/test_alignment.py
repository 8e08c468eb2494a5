"""Word alignments from attention: subwords grouped into words, eos left out, Pharaoh output."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from attnscope.engine.alignment import hard_alignment, pharaoh, word_index
from attnscope.engine.cli import main

SOURCE = ("▁ein", "▁mann", "▁fähr", "t", "</s>")  # words: ein(0) mann(1) fährt(2)
TARGET = ("▁a", "▁man", "▁ride", "s", "</s>")  # words: a(0) man(1) rides(2)


def test_words_start_at_the_word_mark_and_eos_belongs_to_none():
    assert word_index(SOURCE) == [0, 1, 2, 2, -1]
    assert word_index(("ab", "▁c", "d")) == [0, 1, 1]  # a first piece without the mark
    assert word_index(("▁", ".", "</s>")) == [0, 0, -1]  # sentencepiece's lone mark


def test_each_target_word_links_to_the_source_word_it_attends_to_most():
    attention = np.zeros((5, 5), dtype=np.float32)
    attention[0, 0] = attention[1, 1] = 1.0
    attention[2, 3] = 1.0  # "▁ride" looks at "t" of fährt
    attention[3, 2] = 0.4
    attention[3, 4] = 0.6  # "s" looks mostly at eos: eos is left out, so at "▁fähr"
    attention[4, 4] = 1.0  # the target eos gets no link
    links = hard_alignment(attention, SOURCE, TARGET)
    assert links == [(0, 0), (1, 1), (2, 2)]
    assert pharaoh(links) == "0-0 1-1 2-2"


def test_heads_are_averaged():
    attention = np.zeros((5, 2, 5), dtype=np.float32)
    attention[:, 0, 0] = 0.9  # head 0 looks at ein, head 1 at mann, a little more
    attention[:, 1, 1] = 1.0
    links = hard_alignment(attention, SOURCE, TARGET)
    assert links == [(1, 0), (1, 1), (1, 2)]


def test_a_matrix_that_does_not_fit_the_pieces_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        hard_alignment(np.zeros((3, 5)), SOURCE, TARGET)


def _translate(checkpoint, *options, text="ein mann fährt fahrrad .\n"):
    stdin = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        return main(["translate", "-c", str(checkpoint), *options])
    finally:
        sys.stdin = stdin


def test_translate_align_appends_pharaoh_links(tiny_translation_checkpoint, capsys):
    assert _translate(tiny_translation_checkpoint, "--align", "--max-length", "8") == 0
    line = capsys.readouterr().out.splitlines()[0]
    text, separator, links = line.partition(" ||| ")
    assert separator == " ||| "
    pairs = [tuple(int(n) for n in pair.split("-")) for pair in links.split()]
    assert pairs and all(0 <= s < 5 for s, _ in pairs)  # five source words
    assert all(0 <= t < max(len(text.split()), 1) for _, t in pairs)


def test_translate_json_align_is_the_translations_own_alignment(
    tiny_translation_checkpoint, capsys
):
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    assert _translate(tiny_translation_checkpoint, "--align", "--json", "--max-length", "8") == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    config = DecodeConfig(max_length=8)
    translation = model.translate(["ein mann fährt fahrrad ."], config)[0]
    expected = hard_alignment(translation.attention, translation.source_pieces, translation.pieces)
    assert row["alignment"] == pharaoh(expected) and row["pieces"] == list(translation.pieces)


def test_a_model_without_attention_has_nothing_to_align(tiny_plain_checkpoint, capsys):
    assert _translate(tiny_plain_checkpoint, "--align") == 2
    assert "no attention to read alignments from" in capsys.readouterr().err
