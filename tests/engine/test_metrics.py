"""Corpus metrics: sacrebleu BLEU/chrF with signatures, BLEU-n and CIDEr-D for captions."""

import math

import pytest

from attnscope.engine import metrics

SENTENCES = [
    "a man in a blue shirt is riding a bike down the street .",
    "two dogs are playing in the snow near a tree .",
    "the children are sitting on the grass and eating lunch .",
]


def test_identical_hypotheses_score_100_bleu_and_chrf():
    bleu = metrics.bleu(SENTENCES, SENTENCES)
    chrf = metrics.chrf(SENTENCES, SENTENCES)
    assert bleu.score == pytest.approx(100.0)
    assert chrf.score == pytest.approx(100.0)
    assert "tok:13a" in bleu.signature and "nrefs:1" in bleu.signature
    assert chrf.signature.startswith("nrefs:1")


def test_bleu_drops_for_a_worse_hypothesis():
    worse = ["a man rides a bike .", "dogs play .", "kids eat lunch on grass ."]
    assert metrics.bleu(worse, SENTENCES).score < 40.0
    assert metrics.chrf(worse, SENTENCES).score < metrics.chrf(SENTENCES, SENTENCES).score


def test_chinese_references_pick_the_zh_tokenizer():
    refs = ["我们今天晚上去看电影吧。", "他每天早上六点起床。"]
    assert metrics.pick_bleu_tokenizer(refs) == "zh"
    score = metrics.bleu(refs, refs)
    assert "tok:zh" in score.signature
    assert score.score == pytest.approx(100.0)


def test_misaligned_inputs_raise():
    with pytest.raises(ValueError, match="line-aligned"):
        metrics.bleu(SENTENCES, SENTENCES[:2])
    with pytest.raises(ValueError, match="no sentences"):
        metrics.chrf([], [])


def test_caption_tokenize_lowercases_and_strips_punctuation():
    assert metrics.caption_tokenize("A dog, running!  Fast .") == "a dog running fast"


def test_caption_scores_perfect_and_imperfect():
    refs = [
        ["A dog runs on the beach .", "a brown dog running along the sand"],
        ["Two girls play in a park .", "children playing on the grass"],
    ]
    perfect = metrics.caption_scores(["a dog runs on the beach", "two girls play in a park"], refs)
    assert set(perfect) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "CIDEr-D"}
    assert perfect["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    poor = metrics.caption_scores(["a cat sleeps", "a car on a road"], refs)
    assert poor["BLEU-1"] < perfect["BLEU-1"]
    assert poor["CIDEr-D"] < perfect["CIDEr-D"]
    assert perfect["CIDEr-D"] > 0.0


def test_caption_scores_validate_inputs():
    with pytest.raises(ValueError, match="reference"):
        metrics.caption_scores(["a dog"], [[]])
    with pytest.raises(ValueError, match="captions but"):
        metrics.caption_scores(["a dog", "a cat"], [["a dog"]])


def test_perplexity_is_exp_of_mean_nll_and_finite():
    assert metrics.perplexity(math.log(7.0)) == pytest.approx(7.0)
    assert math.isfinite(metrics.perplexity(1e6))
