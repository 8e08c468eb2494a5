"""Token bans, forcing, penalties and sampling filters, on hand-made tensors."""

import math

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import EOS_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.constraints import (
    StepRules,
    apply_rules,
    blocked_ngram_mask,
    force_token,
)
from attnscope.engine.decoding.penalties import final_score
from attnscope.engine.decoding.sampling import filter_top_k, filter_top_p

V = 8


def test_blocked_bigrams():
    history = torch.tensor([[4, 5, 6, 4], [4, 5, 6, 7]])
    mask = blocked_ngram_mask(history, 2, V)
    assert mask[0].nonzero().flatten().tolist() == [5]  # "4 5" already seen after 4
    assert not mask[1].any()


def test_blocked_unigrams_and_trigrams():
    history = torch.tensor([[4, 5, 4, 5]])
    assert blocked_ngram_mask(history, 1, V)[0].nonzero().flatten().tolist() == [4, 5]
    assert blocked_ngram_mask(history, 3, V)[0].nonzero().flatten().tolist() == [4]
    assert not blocked_ngram_mask(history[:, :2], 3, V).any()  # too short to repeat


def test_apply_rules_bans_eos_before_min_length_and_unk():
    log_probs = torch.log_softmax(torch.randn(3, V), dim=1)
    history = torch.zeros(3, 1, dtype=torch.long)
    rules = StepRules(min_length=2, ban_unk=True)
    early = apply_rules(log_probs, history, step=1, rules=rules, forced=None)
    assert torch.isinf(early[:, EOS_ID]).all() and torch.isinf(early[:, UNK_ID]).all()
    late = apply_rules(log_probs, history, step=2, rules=rules, forced=None)
    assert torch.equal(late[:, EOS_ID], log_probs[:, EOS_ID])
    assert torch.isfinite(log_probs).all()  # the input is left alone


def test_force_token_keeps_only_that_token():
    log_probs = torch.log_softmax(torch.randn(2, V), dim=1)
    forced = force_token(log_probs, 6)
    assert torch.equal(forced[:, 6], log_probs[:, 6])
    assert torch.isinf(forced[:, :6]).all() and torch.isinf(forced[:, 7:]).all()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        force_token(log_probs, V)


def test_length_penalties():
    none = DecodeConfig(length_penalty="none")
    average = DecodeConfig(length_penalty="average")
    gnmt = DecodeConfig(length_penalty="gnmt", alpha=1.0)
    assert final_score(none, -6.0, 3, None) == -6.0
    assert final_score(average, -6.0, 3, None) == -2.0
    assert final_score(gnmt, -6.0, 7, None) == pytest.approx(-6.0 / 2.0)  # (5 + 7) / 6


def test_gnmt_coverage_penalty_punishes_unattended_source():
    config = DecodeConfig(coverage_penalty="gnmt", beta=0.5)
    full = np.array([[[1.0, 0.0]], [[0.0, 1.0]]], dtype=np.float32)  # (T=2, heads=1, S=2)
    half = np.array([[[1.0, 0.0]], [[0.5, 0.5]]], dtype=np.float32)
    assert final_score(config, -1.0, 2, full) == pytest.approx(-1.0)
    assert final_score(config, -1.0, 2, half) == pytest.approx(-1.0 + 0.5 * math.log(0.5))
    assert final_score(config, -1.0, 2, None) == -1.0


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_top_k(logits, 2)).sum() == 2
    assert torch.equal(filter_top_k(logits, 0), logits)
    kept = torch.isfinite(filter_top_p(logits, 0.7))[0].tolist()
    assert kept == [True, True, False, False]  # 0.5 < 0.7 <= 0.8
    assert torch.isfinite(filter_top_p(logits, 0.01))[0].tolist() == [True, False, False, False]
