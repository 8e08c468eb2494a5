"""Sampling: reproducible by seed, top_k = 1 is greedy, temperature and nucleus act."""

import pytest

from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory

V = 12


def flat_model():
    """Every step: a broad distribution, eos rare, so samples differ a lot."""
    return ScriptedModel(V, lambda b, p: peaked(V, {4: 0.3, 5: 0.2, EOS_ID: 0.02}, floor=0.1))


def sample(seed, **kw):
    config = DecodeConfig(strategy="sampling", seed=seed, max_length=15, max_length_ratio=0, **kw)
    return decode(flat_model(), scripted_memory([4, 4]), config)


def test_same_seed_same_samples():
    first, second = sample(7), sample(7)
    assert [r.tokens for r in first] == [r.tokens for r in second]
    assert first[0].best.score == second[0].best.score


def test_different_seeds_differ():
    draws = {sample(seed)[0].tokens for seed in range(4)}
    assert len(draws) > 1


def test_top_k_one_is_greedy():
    greedy = decode(
        flat_model(), scripted_memory([4, 4]), DecodeConfig(max_length=15, max_length_ratio=0)
    )
    assert [r.tokens for r in sample(3, top_k=1)] == [r.tokens for r in greedy]


@pytest.mark.parametrize("settings", [{"temperature": 0.01}, {"top_p": 0.2}])
def test_sharp_temperature_or_small_nucleus_is_greedy(settings):
    tokens = sample(11, **settings)[0].tokens
    assert tokens == (4,) * 15


def test_hot_sampling_leaves_the_mode():
    tokens = sample(5, temperature=5.0)[0].tokens
    assert set(tokens) - {4}
