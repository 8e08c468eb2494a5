"""Config round trips and clear errors for unknown names."""

import pytest

from attnscope.models.config import AttentionConfig, ImageEncoderConfig, ModelConfig
from attnscope.models.registry import build_model


def test_round_trip_through_dict():
    config = ModelConfig(
        task="captioning",
        tgt_vocab=30,
        image_encoder=ImageEncoderConfig(grid=(5, 6), projection=64),
    )
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"task": "summarise"}, "valid: translation, captioning"),
        ({"attention": {"kind": "magic"}}, "valid: additive, dot"),
        ({"init": "zeros"}, "unknown init scheme"),
        ({"bogus": 1}, "unknown ModelConfig keys: bogus"),
    ],
)
def test_unknown_names_list_valid_ones(change, message):
    data = {**ModelConfig(src_vocab=5, tgt_vocab=5).to_dict()}
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ValueError, match=message):
        build_model(data)


def test_heads_must_divide_hidden():
    config = ModelConfig(
        src_vocab=5, tgt_vocab=5, attention=AttentionConfig(kind="multihead", heads=3, hidden=8)
    )
    with pytest.raises(ValueError, match="not divisible by heads 3"):
        build_model(config)
