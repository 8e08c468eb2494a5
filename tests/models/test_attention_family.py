"""Every attention type × encoder kind: shapes, masking, normalisation, gradients."""

import itertools

import pytest
import torch

from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model

ATTENTIONS = ["additive", "dot", "general", "location", "location_sensitive", "multihead"]
ENCODERS = [
    dict(kind="rnn", cell="lstm", bidirectional=False),
    dict(kind="rnn", cell="lstm", bidirectional=True),
    dict(kind="rnn", cell="gru", bidirectional=False),
    dict(kind="rnn", cell="gru", bidirectional=True, layers=2),
    dict(kind="cnn"),
    dict(kind="conv_rnn", cell="gru", bidirectional=True),
]


def tiny_config(attention: str, encoder: dict, *, src_vocab: int = 23, **extra) -> ModelConfig:
    enc = TextEncoderConfig(
        hidden=8, dropout=0.0, kernel_sizes=(3, 5, 7), max_positions=32, **encoder
    )
    heads = 2 if attention == "multihead" else 1
    return ModelConfig(
        src_vocab=src_vocab,
        tgt_vocab=19,
        embed_dim=8,
        text_encoder=enc,
        attention=AttentionConfig(kind=attention, heads=heads, location_kernel=3),
        # dot attention needs decoder size == memory size
        decoder=DecoderConfig(hidden=enc.output_size, dropout=0.0),
        **extra,
    )


def batch():
    src = torch.randint(4, 23, (3, 7))
    lengths = torch.tensor([7, 4, 2])
    src[1, 4:] = 0
    src[2, 2:] = 0
    tgt = torch.randint(4, 19, (3, 5))
    return src, lengths, tgt


@pytest.mark.parametrize(
    ("attention", "encoder"), list(itertools.product(ATTENTIONS, ENCODERS)), ids=str
)
def test_shapes_mask_and_normalisation(attention, encoder):
    model = build_model(tiny_config(attention, encoder))
    src, lengths, tgt = batch()
    log_probs, attn = model(src, lengths, tgt)
    heads = model.num_heads
    assert log_probs.shape == (3, 5, 19)
    assert attn.shape == (3, 5, heads, 7)
    # padding gets exactly zero weight, every row sums to one
    assert torch.all(attn[1, :, :, 4:] == 0)
    assert torch.all(attn[2, :, :, 2:] == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 5, heads), atol=1e-5, rtol=0)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 5), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    ("attention", "encoder"), list(itertools.product(ATTENTIONS + ["none"], ENCODERS)), ids=str
)
def test_gradients_reach_every_parameter(attention, encoder):
    model = build_model(tiny_config(attention, encoder))
    src, lengths, tgt = batch()
    # full-length rows so every position embedding / location slot used is reachable
    log_probs, _ = model(src, lengths, tgt)
    log_probs.sum().backward()
    missing = [
        name
        for name, p in model.named_parameters()
        if p.grad is None or (p.grad.abs().sum() == 0 and "positions" not in name)
    ]
    assert not missing, f"no gradient for {missing}"


def test_shared_embeddings_and_tied_output():
    config = tiny_config(
        "additive", dict(kind="rnn"), src_vocab=19, share_embeddings=True, tie_output=True
    )
    model = build_model(config)
    assert model.src_embedding is model.tgt_embedding
    assert model.decoder.output.proj.weight is model.tgt_embedding.weight
    names = [n for n, _ in model.named_parameters()]
    assert sum("embedding.weight" in n for n in names) == 1  # one matrix, registered once


def test_normal_init_scheme_is_small():
    config = ModelConfig.from_dict(
        {**tiny_config("additive", dict(kind="rnn")).to_dict(), "init": "normal"}
    )
    model = build_model(config)
    stds = [p.std().item() for p in model.parameters() if p.numel() > 50]
    assert all(0.005 < s < 0.02 for s in stds)
