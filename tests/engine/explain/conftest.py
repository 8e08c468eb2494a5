"""Tiny models for the attribution tests: the suite's tiny de->en checkpoints (tests/conftest.py)
loaded for inference, and a tiny captioner saved and loaded the same way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnscope.engine.checkpoint import save_checkpoint
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.images import ImagePreprocess
from attnscope.engine.inference import load_inference_model
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
)
from attnscope.models.registry import build_model

SOURCE = "ein mann fährt fahrrad ."
CAPTIONS = ["a red square above a blue circle", "a green triangle", "two circles"] * 10


@pytest.fixture(scope="session")
def tiny_text(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def tiny_plain(tiny_plain_checkpoint):
    return load_inference_model(tiny_plain_checkpoint, device="cpu")


def make_tiny_captioner(path, *, storage_dtype=torch.float32):
    """A random small-CNN captioner on 24x24 pictures with a 3x3 grid (additive attention)."""
    tokenizer = TextTokenizer.train(CAPTIONS, vocab_size=40, num_threads=1)
    image = ImageEncoderConfig(
        backbone="small_cnn", grid=(3, 3), projection=8, image_size=(24, 24), dropout=0.0
    )
    config = ModelConfig(
        task="captioning",
        tgt_vocab=tokenizer.vocab_size,
        embed_dim=8,
        image_encoder=image,
        attention=AttentionConfig(kind="additive"),
        decoder=DecoderConfig(hidden=8, dropout=0.0),
    )
    torch.manual_seed(0)
    model = build_model(config).eval()
    with torch.no_grad():  # random features are faint: make the caption depend on them
        model.encoder.proj.weight.mul_(20.0)
    return save_checkpoint(
        path,
        model=model,
        tgt_tokenizer=tokenizer,
        image_preprocess=ImagePreprocess.from_model_config(image),
        storage_dtype=storage_dtype,
    )


@pytest.fixture(scope="session")
def tiny_captioner(tmp_path_factory):
    path = make_tiny_captioner(tmp_path_factory.mktemp("ckpt") / "tiny-captioner.safetensors")
    return load_inference_model(path, device="cpu")


@pytest.fixture(scope="session")
def picture() -> np.ndarray:
    """A 30x36 RGB picture: a red block on grey with some noise."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(90, 140, size=(30, 36, 3)).astype(np.uint8)
    rgb[4:16, 6:20] = (220, 30, 30)
    return rgb


def decoded_tokens(model, source, max_length: int = 6) -> tuple[int, ...]:
    """The greedy output of ``source`` (ids, eos included when emitted)."""
    opened = model.open_session(source, DecodeConfig(max_length=max_length))
    opened.run()
    return tuple(opened.session.tokens)
