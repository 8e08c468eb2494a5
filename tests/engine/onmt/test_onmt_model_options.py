"""The model options OpenNMT-py's RNN models need (decoder started from the encoder's final
states, with or without OpenNMT-py's bridge; no tanh on the attentional vector): the eval
fast step equals the reference math, and a teacher-forced forward equals stepping."""

from __future__ import annotations

import pytest
import torch

from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.fast_step import use_fast_paths
from attnscope.models.registry import build_model


def _config(cell: str, init_from: str, attention: str, bidirectional: bool) -> ModelConfig:
    directions = 2 if bidirectional else 1
    return ModelConfig(
        src_vocab=11,
        tgt_vocab=13,
        embed_dim=6,
        text_encoder=TextEncoderConfig(
            cell=cell, layers=2, hidden=8 // directions, bidirectional=bidirectional, dropout=0.0
        ),
        attention=AttentionConfig(kind=attention),
        decoder=DecoderConfig(
            cell=cell,
            layers=2,
            hidden=8,
            dropout=0.0,
            placement="luong",
            init_from=init_from,
            combine_activation="none" if attention == "additive" else "tanh",
        ),
        source_eos=False,
    )


CASES = [
    ("lstm", "final_states", "general", True),
    ("lstm", "final_states_bridge", "dot", True),
    ("gru", "final_states_bridge", "additive", False),
    ("gru", "final_states", "additive", True),
]


def _steps(model, src, lengths, tokens):
    memory = model.encode(src, lengths)
    state = model.init_state(memory)
    log_probs, attention = [], []
    for t in range(tokens.size(1)):
        out, state, attn = model.step(tokens[:, t], state, memory)
        log_probs.append(out)
        attention.append(attn)
    return torch.stack(log_probs, 1), torch.stack(attention, 1)


@pytest.mark.parametrize(("cell", "init_from", "attention", "bidirectional"), CASES)
def test_fast_step_teacher_forcing_and_reference_agree(cell, init_from, attention, bidirectional):
    model = build_model(_config(cell, init_from, attention, bidirectional)).eval()
    src = torch.randint(4, 11, (3, 5))
    lengths = torch.tensor([5, 3, 4])
    src[1, 3:] = 0
    src[2, 4:] = 0
    tokens = torch.randint(4, 13, (3, 4))
    with torch.no_grad():
        fast = _steps(model, src, lengths, tokens)
        forced = model(src, lengths, tokens)
        use_fast_paths(model, False)
        reference = _steps(model, src, lengths, tokens)
    for a, b in zip(fast, reference, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.testing.assert_close(forced[0], reference[0], rtol=0, atol=1e-6)
    torch.testing.assert_close(forced[1], reference[1], rtol=0, atol=1e-6)


def test_the_first_decoder_state_is_the_encoders_last_state_of_each_layer():
    model = build_model(_config("lstm", "final_states", "general", True)).eval()
    src, lengths = torch.randint(4, 11, (2, 4)), torch.tensor([4, 4])
    memory = model.encode(src, lengths)
    hidden, cell = model.init_state(memory).hidden, model.init_state(memory).cell
    h, c = memory.final_states  # each (B, layers x 2 directions, 4)
    assert hidden.shape == cell.shape == (2, 2, 8)
    torch.testing.assert_close(hidden[1], torch.cat([h[:, 2], h[:, 3]], -1))  # layer 1: fwd, bwd
    torch.testing.assert_close(cell[0], torch.cat([c[:, 0], c[:, 1]], -1))


def test_final_states_need_an_encoder_of_the_decoders_shape():
    with pytest.raises(ValueError, match="needs a text RNN encoder with the decoder's cell"):
        ModelConfig(
            src_vocab=5,
            tgt_vocab=5,
            text_encoder=TextEncoderConfig(cell="gru", layers=1, hidden=4),
            decoder=DecoderConfig(cell="lstm", layers=1, hidden=8, init_from="final_states"),
        )


def test_the_bridge_is_trained_through():
    model = build_model(_config("gru", "final_states_bridge", "additive", False)).train()
    src, lengths = torch.randint(4, 11, (2, 4)), torch.tensor([4, 2])
    log_probs, _ = model(src, lengths, torch.randint(4, 13, (2, 3)))
    log_probs.sum().backward()
    assert model.decoder.state_bridge[0].weight.grad.abs().sum() > 0
