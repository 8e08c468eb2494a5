"""DecodeConfig validation, the max-length rule and the strategy registry."""

import math

import pytest

from attnscope.engine.decoding.config import STRATEGY_NAMES, DecodeConfig
from attnscope.engine.decoding.driver import STRATEGIES, build_strategy


def test_defaults_are_valid_and_frozen():
    config = DecodeConfig()
    assert config.strategy == "greedy"
    with pytest.raises(AttributeError):
        config.beam_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("strategy", "viterbi", "greedy, beam, sampling"),
        ("length_penalty", "wu", "none, average, gnmt"),
        ("coverage_penalty", "summary", "none, gnmt"),
        ("beam_size", 0, "beam_size"),
        ("beam_size", 2.5, "beam_size"),
        ("n_best", 0, "n_best"),
        ("max_length", 0, "max_length"),
        ("max_length_ratio", -1.0, "max_length_ratio"),
        ("max_length_ratio", math.inf, "max_length_ratio"),
        ("min_length", -1, "min_length"),
        ("alpha", -0.1, "alpha"),
        ("beta", -0.1, "beta"),
        ("block_ngram_repeat", -2, "block_ngram_repeat"),
        ("ban_unk", 1, "ban_unk"),
        ("temperature", 0.0, "temperature"),
        ("top_k", -1, "top_k"),
        ("top_p", 0.0, "top_p"),
        ("top_p", 1.5, "top_p"),
        ("seed", -3, "seed"),
        ("topk_alternatives", -1, "topk_alternatives"),
    ],
)
def test_invalid_settings_raise_value_error_naming_them(field, value, message):
    with pytest.raises(ValueError, match=message):
        DecodeConfig(**{field: value})


def test_n_best_cannot_exceed_beam_size():
    with pytest.raises(ValueError, match="n_best"):
        DecodeConfig(strategy="beam", beam_size=2, n_best=3)


def test_max_length_rule():
    config = DecodeConfig(max_length=50, max_length_ratio=2.0)
    assert config.max_length_for(3) == 11  # ceil(2 · 3) + 5
    assert config.max_length_for(7) == 19
    assert config.max_length_for(100) == 50  # capped by max_length
    assert DecodeConfig(max_length=50, max_length_ratio=1.5).max_length_for(3) == 10  # ceil(4.5)+5
    assert DecodeConfig(max_length=50, max_length_ratio=0.0).max_length_for(3) == 50


def test_registry_holds_every_configurable_strategy():
    assert set(STRATEGIES) == set(STRATEGY_NAMES)


def test_build_strategy_rejects_unknown_names_listing_valid_ones():
    config = DecodeConfig()
    object.__setattr__(config, "strategy", "viterbi")  # bypass validation on purpose
    with pytest.raises(ValueError, match="greedy, beam, sampling"):
        build_strategy(config)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"strategy": "beam", "beam_size": 10**8}, "beam_size must be an integer in 1..64"),
        ({"max_length": 10**9}, "max_length must be an integer in 1..1,024"),
        ({"min_length": 5000}, "min_length"),
        ({"temperature": math.nan}, "temperature must be a finite number"),
        ({"temperature": 1e-300}, "temperature"),
        ({"temperature": 1e300}, "temperature"),
        ({"seed": 2**70}, "seed"),
        ({"top_k": 10**12}, "top_k"),
        ({"alpha": 1e9}, "alpha"),
        ({"block_ngram_repeat": 10**6}, "block_ngram_repeat"),
        ({"max_length_ratio": math.inf}, "max_length_ratio"),
        ({"topk_alternatives": 10**9}, "topk_alternatives"),
    ],
)
def test_every_setting_has_an_upper_bound_named_in_the_refusal(changes, field):
    with pytest.raises(ValueError, match=field):
        DecodeConfig(**changes)


def test_the_bounds_admit_the_apps_widest_settings():
    DecodeConfig(strategy="beam", beam_size=64, n_best=64, max_length=1000, alpha=2.0)
    DecodeConfig(strategy="sampling", temperature=0.05, seed=2**31 - 1, top_k=1000)
    DecodeConfig(strategy="sampling", temperature=5.0, top_p=1.0)


def test_from_dict_validates_values_and_names_unknown_settings():
    config = DecodeConfig.from_dict({"strategy": "beam", "beam_size": 5, "alpha": 1.5})
    assert (config.strategy, config.beam_size, config.alpha) == ("beam", 5, 1.5)
    with pytest.raises(ValueError, match="unknown decoding settings: beams"):
        DecodeConfig.from_dict({"beams": 5})
    with pytest.raises(ValueError, match="must be a mapping"):
        DecodeConfig.from_dict(["beam"])
    with pytest.raises(ValueError, match="beam_size"):
        DecodeConfig.from_dict({"strategy": "beam", "beam_size": 10**8})
