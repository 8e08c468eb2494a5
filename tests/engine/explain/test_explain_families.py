"""Every attention kind, text encoder, cell and decoder start of the model family is
explained: the targets are the session's own log-probs, and IG stays complete (the batch
drops finished rows, so every kind of decoder state is cut and carried along)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SOURCE, decoded_tokens

from attnscope.engine.checkpoint import save_checkpoint
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.explain import explain
from attnscope.engine.inference import load_inference_model
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import (
    ATTENTION_KINDS,
    AttentionConfig,
    DecoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

LINES = ["ein mann fährt fahrrad .", "der hund läuft im park .", "a man rides a bike ."] * 5
VARIANTS = [
    *({"attention": kind} for kind in ATTENTION_KINDS if kind != "dot"),
    {"attention": "dot", "decoder_hidden": 16},  # the bidirectional encoder's width
    {"encoder": "cnn"},
    {"encoder": "conv_rnn", "cell": "lstm"},
    {"cell": "lstm", "placement": "luong", "input_feed": True},
    {"init_from": "final_states", "bidirectional": False},  # the decoder's width
]


@pytest.fixture(scope="module")
def tokenizer():
    return TextTokenizer.train(LINES, vocab_size=40, num_threads=1)


def tiny_model(tmp_path, tokenizer, variant: dict):
    kind = variant.get("attention", "additive")
    attention = AttentionConfig(kind=kind, heads=2 if kind == "multihead" else 1)
    config = ModelConfig(
        src_vocab=tokenizer.vocab_size,
        tgt_vocab=tokenizer.vocab_size,
        embed_dim=8,
        text_encoder=TextEncoderConfig(
            kind=variant.get("encoder", "rnn"),
            cell=variant.get("cell", "gru"),
            hidden=8,
            bidirectional=variant.get("bidirectional", True),
            dropout=0.0,
        ),
        attention=attention,
        decoder=DecoderConfig(
            cell=variant.get("cell", "gru"),
            hidden=variant.get("decoder_hidden", 8),
            dropout=0.0,
            placement=variant.get("placement", "bahdanau"),
            input_feed=variant.get("input_feed", False),
            init_from=variant.get("init_from", "summary"),
        ),
    )
    torch.manual_seed(0)
    path = save_checkpoint(
        tmp_path / "model.safetensors",
        model=build_model(config).eval(),
        tgt_tokenizer=tokenizer,
        src_tokenizer=tokenizer,
    )
    return load_inference_model(path, device="cpu")


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v.values())))
def test_every_model_of_the_family_is_explained(tmp_path, tokenizer, variant):
    model = tiny_model(tmp_path, tokenizer, variant)
    opened = model.open_session(SOURCE, DecodeConfig(max_length=5))
    opened.run()
    tokens = tuple(opened.session.tokens)
    shown = np.array([step.log_prob for step in opened.snapshot().steps])
    result = explain(model, SOURCE, tokens, method="ig", ig_steps=16)
    np.testing.assert_allclose(result.target_values, shown, atol=1e-5)
    change = result.target_values - result.baseline_values
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=1e-4)
    assert decoded_tokens(model, SOURCE, max_length=5) == tokens
