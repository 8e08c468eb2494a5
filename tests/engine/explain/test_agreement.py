"""Agreement between attention and attribution, and per-step scores, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnscope.engine.explain import agreement, mean_agreement, step_scores
from attnscope.engine.explain.agreement import average_ranks


def test_identical_rankings_agree_fully():
    result = agreement([0.1, 0.6, 0.3], [0.2, 1.2, 0.6])
    assert result.spearman == pytest.approx(1.0)
    assert result.top1 is True
    assert result.jsd == pytest.approx(0.0, abs=1e-12)


def test_attribution_is_taken_by_magnitude():
    """A strongly negative position is as important as a strongly positive one."""
    result = agreement([0.1, 0.6, 0.3], [0.2, -1.2, 0.6])
    assert result.spearman == pytest.approx(1.0) and result.top1 is True


def test_reversed_ranking_and_disjoint_mass():
    result = agreement([1.0, 0.0], [0.0, 3.0])
    assert result.spearman == pytest.approx(-1.0)
    assert result.top1 is False
    assert result.jsd == pytest.approx(1.0)  # disjoint supports: 1 bit


def test_jsd_of_a_hand_computed_pair():
    """P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
    JSD = 1/2 (1/2 log2(2/3) + 1/2 log2(2)) + 1/2 log2(4/3)."""
    expected = 0.5 * (0.5 * math.log2(2 / 3) + 0.5) + 0.5 * math.log2(4 / 3)
    assert agreement([0.5, 0.5], [1.0, 0.0]).jsd == pytest.approx(expected)


def test_ties_share_their_average_rank():
    np.testing.assert_allclose(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])
    # ranks (1, 2.5, 2.5) against (1, 2, 3): Pearson of the ranks
    a = np.array([1.0, 2.5, 2.5]) - 2
    b = np.array([1.0, 2.0, 3.0]) - 2
    expected = (a @ b) / math.sqrt((a @ a) * (b @ b))
    assert agreement([0.1, 0.45, 0.45], [1.0, 2.0, 3.0]).spearman == pytest.approx(expected)


def test_undefined_values_are_nan():
    constant = agreement([0.5, 0.5], [1.0, 2.0])
    assert math.isnan(constant.spearman)
    zero = agreement([0.2, 0.8], [0.0, 0.0])
    assert math.isnan(zero.jsd)


def test_mean_over_rows():
    attention = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    attribution = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])  # agrees, then is reversed
    result = mean_agreement(attention, attribution)
    assert result.spearman == pytest.approx(0.0)
    assert result.top1 == pytest.approx(0.5)
    rows = [agreement(a, b).jsd for a, b in zip(attention, attribution, strict=True)]
    assert result.jsd == pytest.approx(np.mean(rows))


@pytest.mark.parametrize(
    ("attention", "attribution"),
    [([0.5, 0.5], [1.0]), ([], []), ([-0.1, 1.1], [1.0, 1.0]), ([0.5, np.nan], [1.0, 1.0])],
)
def test_rows_that_cannot_be_compared_are_refused(attention, attribution):
    with pytest.raises(ValueError, match="attention"):
        agreement(attention, attribution)


def test_step_scores_by_hand():
    log_probs = np.log([0.5, 0.25, 0.125, 0.125])
    scores = step_scores(log_probs, 1)
    assert scores.probability == pytest.approx(0.25)
    assert scores.surprisal == pytest.approx(math.log(4))
    assert scores.entropy == pytest.approx(1.75 * math.log(2))  # 1.75 bits
    assert scores.margin == pytest.approx(math.log(2))  # log 0.5 - log 0.25, whatever was chosen


def test_step_scores_with_impossible_tokens_and_bad_rows():
    scores = step_scores(np.array([0.0, -np.inf, -np.inf]), 0)
    assert scores.entropy == 0.0 and scores.probability == 1.0 and scores.margin == math.inf
    with pytest.raises(ValueError, match="outside"):
        step_scores(np.log([0.5, 0.5]), 2)
    with pytest.raises(ValueError, match="without NaN"):
        step_scores(np.array([np.nan, 0.0]), 0)
