"""Attention compared over one output: piece level when segmentations match, per word
(subwords grouped) across two tokenizers, and one input compared end to end."""

from __future__ import annotations

import numpy as np
import pytest
from compare_support import SOURCES

from attnscope.engine.compare import compare_input, force_output, word_diff
from attnscope.engine.compare.attention import (
    PIECE_LEVEL,
    WORD_LEVEL,
    compare_attention,
    jensen_shannon,
)
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.inference_results import SessionSnapshot

SOURCE = SOURCES[2]
CONFIG = DecodeConfig(max_length=6, min_length=4, topk_alternatives=3)


@pytest.fixture(scope="module")
def models(translators):
    return {name: load_inference_model(path, device="cpu") for name, path in translators.items()}


def snapshot(source_pieces, target_pieces, attention) -> SessionSnapshot:
    return SessionSnapshot(
        source_text="",
        source_pieces=tuple(source_pieces),
        target_pieces=tuple(target_pieces),
        target_text="",
        steps=(),
        attention=np.asarray(attention, dtype=np.float32),
        num_heads=np.asarray(attention).shape[1],
        done=True,
        strategy="greedy",
    )


def test_subwords_are_grouped_into_words_summing_source_and_averaging_output_pieces():
    # A reads "ab c" as ▁a b ▁c </s>, B as ▁ab ▁c </s>; the output "x y" as ▁x ▁y / ▁x ▁y
    a = snapshot(
        ["▁a", "b", "▁c", "</s>"],
        ["▁x", "▁y", "</s>"],
        [[[0.5, 0.2, 0.2, 0.1]], [[0.0, 0.0, 1.0, 0.0]], [[0.1, 0.1, 0.1, 0.7]]],
    )
    b = snapshot(
        ["▁ab", "▁c", "</s>"],
        ["▁x", "▁y", "</s>"],
        [[[0.7, 0.2, 0.1]], [[0.6, 0.4, 0.0]], [[0.2, 0.1, 0.7]]],
    )
    comparison = compare_attention(a, b)
    assert comparison.level == WORD_LEVEL
    assert comparison.columns == ("ab", "c", "</s>") and comparison.rows == ("x", "y", "</s>")
    np.testing.assert_allclose(comparison.a[0], [0.7, 0.2, 0.1], atol=1e-6)
    np.testing.assert_allclose(comparison.jsd[0], 0.0, atol=1e-6)
    assert comparison.top1_match.tolist() == [True, False, True]
    assert comparison.top1_agreement == pytest.approx(2 / 3)
    np.testing.assert_allclose(comparison.difference, comparison.a - comparison.b)


def test_output_subwords_average_into_one_word_row():
    a = snapshot(["▁a", "</s>"], ["▁x", "y", "</s>"], [[[1, 0]], [[0, 1]], [[0.5, 0.5]]])
    b = snapshot(["▁a", "</s>"], ["▁xy", "</s>"], [[[0.5, 0.5]], [[0.5, 0.5]]])
    comparison = compare_attention(a, b)
    np.testing.assert_allclose(comparison.a, [[0.5, 0.5], [0.5, 0.5]])
    assert comparison.mean_jsd == pytest.approx(0.0, abs=1e-6)


def test_jensen_shannon_is_zero_for_equal_rows_and_one_for_disjoint_rows():
    rows = jensen_shannon(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, 1.0], [0.5, 0.5]]))
    np.testing.assert_allclose(rows, [1.0, 0.0], atol=1e-6)


def test_two_tokenizers_compare_per_word_on_real_models(models):
    a, b = models["additive"], models["other_tokens"]
    assert a.src_tokenizer.pieces(SOURCE) != b.src_tokenizer.pieces(SOURCE)
    text = "a woman reads a book"
    comparison = compare_attention(
        force_output(a, SOURCE, text, CONFIG).snapshot,
        force_output(b, SOURCE, text, CONFIG).snapshot,
    )
    assert comparison.level == WORD_LEVEL
    assert comparison.columns == (*SOURCE.split(), "</s>")
    assert comparison.rows == (*text.split(), "</s>")
    np.testing.assert_allclose(comparison.a.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(comparison.b.sum(axis=1), 1.0, atol=1e-5)
    assert 0.0 <= comparison.mean_jsd <= 1.0


def test_one_input_compared_end_to_end(models, tiny_plain_checkpoint):
    a, b = models["additive"], models["multihead"]
    result = compare_input(a, b, SOURCE, CONFIG, CONFIG, reference="a woman reads a book .")
    own_a, own_b = result.outputs
    assert own_a.done and own_b.done
    assert result.attention.level == PIECE_LEVEL  # the same tokenizers: a difference map
    assert result.attention.rows == result.reference[0].snapshot.target_pieces
    retokenized = (*b.tgt_tokenizer.pieces(own_a.target_text), "</s>")  # B reads A's text
    assert result.b_scores_a.report.pieces == retokenized
    assert result.diff == word_diff(own_a, own_b)
    assert result.own_log_probs[0] == pytest.approx(sum(s.log_prob for s in own_a.steps))
    plain = load_inference_model(tiny_plain_checkpoint, device="cpu")
    without = compare_input(a, plain, SOURCE, CONFIG, CONFIG)
    assert without.attention is None
    assert "model B has no attention" in " ".join(without.notes)


def test_two_captioners_compare_over_their_grid_cells(captioner, tmp_path):
    from compare_support import make_captioner
    from PIL import Image

    picture = tmp_path / "picture.png"
    Image.new("RGB", (40, 40), "red").save(picture)
    other = make_captioner(tmp_path / "bpe.safetensors", vocab=48, model_type="bpe")
    a, b = (load_inference_model(path, device="cpu") for path in (captioner, other))
    result = compare_input(a, b, str(picture), CONFIG, CONFIG, reference="a woman reads a book")
    comparison = result.attention
    assert comparison.level == WORD_LEVEL  # other tokenizers: the output's words
    assert comparison.columns == ("0,0", "0,1", "1,0", "1,1")
    assert comparison.rows == ("a", "woman", "reads", "a", "book", "</s>")
    np.testing.assert_allclose(comparison.b.sum(axis=1), 1.0, atol=1e-5)
