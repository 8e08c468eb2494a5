"""Model configs are untrusted (they come from checkpoints): every size is bounded, every
field named in the refusal, and the parameter lower bound never exceeds the real count."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from attnscope.models.config import (
    MAX_LAYERS,
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
    TextEncoderConfig,
    minimum_parameters,
)
from attnscope.models.registry import build_model


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"decoder": {"layers": 100_000}}, r"decoder\.layers"),
        ({"decoder": {"layers": 2.5}}, r"decoder\.layers"),
        ({"decoder": {"hidden": True}}, r"decoder\.hidden"),
        ({"decoder": {"dropout": math.nan}}, r"decoder\.dropout"),
        ({"text_encoder": {"layers": 0}}, r"text_encoder\.layers"),
        ({"text_encoder": {"hidden": 10**9}}, r"text_encoder\.hidden"),
        ({"text_encoder": {"max_positions": 10**7}}, r"text_encoder\.max_positions"),
        ({"text_encoder": {"kernel_sizes": [3] * 17}}, r"text_encoder\.kernel_sizes"),
        ({"text_encoder": {"kernel_sizes": [65]}}, r"text_encoder\.kernel_sizes"),
        ({"text_encoder": {"kernel_sizes": []}}, r"text_encoder\.kernel_sizes"),
        ({"attention": {"heads": 65}}, r"attention\.heads"),
        ({"attention": {"hidden": -1}}, r"attention\.hidden"),
        ({"attention": {"location_channels": 10**6}}, r"attention\.location_channels"),
        ({"attention": {"location_kernel": 101}}, r"attention\.location_kernel"),
        ({"tgt_vocab": 10**7}, "tgt_vocab"),
        ({"src_vocab": 10**7}, "src_vocab"),
        ({"embed_dim": 10**5}, "embed_dim"),
        ({"pad_id": 5}, "pad_id"),
    ],
)
def test_each_size_is_bounded_and_named(data, field):
    base = {"task": "translation", "src_vocab": 40, "tgt_vocab": 40}
    with pytest.raises(ValueError, match=field):
        ModelConfig.from_dict({**base, **data})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"grid": (100, 7)}, r"image_encoder\.grid"),
        ({"image_size": (4096, 224)}, r"image_encoder\.image_size"),
        ({"image_size": (224,)}, r"image_encoder\.image_size"),
        ({"projection": 10**6}, r"image_encoder\.projection"),
        ({"mean": (math.nan, 0.5, 0.5)}, r"image_encoder\.mean"),
        ({"std": (0.0, 0.2, 0.2)}, r"image_encoder\.std"),
        ({"std": (math.inf, 0.2, 0.2)}, r"image_encoder\.std"),
    ],
)
def test_image_encoder_fields_are_bounded_and_named(changes, field):
    with pytest.raises(ValueError, match=field):
        ImageEncoderConfig(**changes)


def test_the_largest_allowed_depth_still_builds_on_the_meta_device():
    config = ModelConfig(
        src_vocab=50, tgt_vocab=50, embed_dim=8, decoder=DecoderConfig(layers=MAX_LAYERS, hidden=8)
    )
    with torch.device("meta"):
        assert build_model(config) is not None


def _configs():
    texts = [
        TextEncoderConfig(kind=kind, cell=cell, layers=layers, hidden=6, bidirectional=bi)
        for kind, cell, layers, bi in itertools.product(
            ("rnn", "cnn", "conv_rnn"), ("gru", "lstm"), (1, 2), (True, False)
        )
    ]
    attentions = [
        AttentionConfig(kind=k, heads=2, hidden=8) for k in ("additive", "multihead", "none")
    ]
    decoders = [DecoderConfig(cell=c, layers=n, hidden=8) for c in ("gru", "lstm") for n in (1, 3)]
    for text, attention, decoder, tie in itertools.product(
        texts, attentions, decoders, (False, True)
    ):
        yield ModelConfig(
            src_vocab=30,
            tgt_vocab=40,
            embed_dim=8,
            text_encoder=text,
            attention=attention,
            decoder=decoder,
            tie_output=tie,
        )
    for positions in (False, True):
        image = ImageEncoderConfig(
            backbone="small_cnn", grid=(3, 3), projection=8, positions=positions
        )
        yield ModelConfig(task="captioning", tgt_vocab=40, embed_dim=8, image_encoder=image)


def test_the_parameter_lower_bound_never_exceeds_the_built_model():
    for config in _configs():
        with torch.device("meta"):
            model = build_model(config)
        real = sum(p.numel() for p in model.parameters())
        assert 0 < minimum_parameters(config) <= real, config
