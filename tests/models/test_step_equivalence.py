"""The teacher-forced forward equals running `step` token by token, for every decoder."""

import pytest
import torch

from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

DECODERS = [
    ("additive", "gru", "bahdanau", False),
    ("additive", "lstm", "luong", True),
    ("dot", "lstm", "luong", True),
    ("general", "gru", "luong", False),
    ("location", "gru", "bahdanau", True),
    ("location_sensitive", "lstm", "bahdanau", False),
    ("multihead", "gru", "luong", True),
    ("none", "gru", "bahdanau", False),
    ("none", "lstm", "bahdanau", False),
]


def stepwise(model, memory, tgt):
    state = model.init_state(memory)
    log_probs, attns = [], []
    for t in range(tgt.size(1)):
        lp, state, attn = model.step(tgt[:, t], state, memory)
        log_probs.append(lp)
        attns.append(attn)
    attn = None if attns[0] is None else torch.stack(attns, 1)
    return torch.stack(log_probs, 1), attn


@pytest.mark.parametrize(("attention", "cell", "placement", "feed"), DECODERS, ids=str)
def test_translation_forward_equals_steps(attention, cell, placement, feed):
    config = ModelConfig(
        src_vocab=21,
        tgt_vocab=13,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=6, cell=cell, dropout=0.0, max_positions=16),
        attention=AttentionConfig(kind=attention, heads=4 if attention == "multihead" else 1),
        decoder=DecoderConfig(hidden=12, cell=cell, placement=placement, input_feed=feed, layers=2),
    )
    model = build_model(config).eval()
    src = torch.randint(4, 21, (2, 6))
    lengths = torch.tensor([6, 3])
    tgt = torch.randint(4, 13, (2, 5))
    with torch.no_grad():
        full_lp, full_attn = model(src, lengths, tgt)
        step_lp, step_attn = stepwise(model, model.encode(src, lengths), tgt)
    torch.testing.assert_close(full_lp, step_lp, atol=1e-5, rtol=0)
    if attention == "none":
        assert full_attn is None and step_attn is None
    else:
        torch.testing.assert_close(full_attn, step_attn, atol=1e-5, rtol=0)


def test_captioning_forward_equals_steps():
    config = ModelConfig(
        task="captioning",
        tgt_vocab=11,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(backbone="resnet18", grid=(3, 3), projection=16),
        decoder=DecoderConfig(hidden=12, cell="lstm", dropout=0.0),
    )
    model = build_model(config).eval()
    images = torch.randn(2, 3, 64, 64)
    tgt = torch.randint(4, 11, (2, 4))
    with torch.no_grad():
        full_lp, full_attn = model(images, tgt)
        step_lp, step_attn = stepwise(model, model.encode(images), tgt)
    torch.testing.assert_close(full_lp, step_lp, atol=1e-5, rtol=0)
    torch.testing.assert_close(full_attn, step_attn, atol=1e-5, rtol=0)
    assert full_attn.shape == (2, 4, 1, 9)


def test_teacher_forcing_ratio_feeds_model_predictions():
    config = ModelConfig(
        src_vocab=9,
        tgt_vocab=9,
        embed_dim=4,
        text_encoder=TextEncoderConfig(hidden=4, dropout=0.0),
        decoder=DecoderConfig(hidden=4, dropout=0.0),
    )
    model = build_model(config).eval()
    src, lengths = torch.randint(4, 9, (2, 5)), torch.tensor([5, 5])
    tgt = torch.randint(4, 9, (2, 6))
    with torch.no_grad():
        forced, _ = model(src, lengths, tgt, teacher_forcing=1.0)
        free, _ = model(src, lengths, tgt, teacher_forcing=0.0)
        # with ratio 0 the model feeds its own argmax: equals a greedy rollout
        memory = model.encode(src, lengths)
        state, prev, greedy = model.init_state(memory), tgt[:, 0], []
        for _ in range(6):
            lp, state, _ = model.step(prev, state, memory)
            greedy.append(lp)
            prev = lp.argmax(-1)
    torch.testing.assert_close(free, torch.stack(greedy, 1))
    torch.testing.assert_close(forced[:, 0], free[:, 0])


@pytest.mark.parametrize(("layers", "batch"), [(1, 1), (1, 6), (3, 1), (3, 6)])
def test_eval_gru_step_has_the_bits_of_nn_gru(layers, batch):
    """The decoder's eval GRU step (torch.gru_cell per layer) is nn.GRU to the last bit,
    also on the input-major weight copies a batched decode (>= MIN_ROWS rows) uses."""
    from attnscope.models.fast_step import MIN_ROWS, InputMajorWeights, gru_layers

    torch.manual_seed(layers * 10 + batch)
    rnn = torch.nn.GRU(13, 21, num_layers=layers, batch_first=True).eval()
    inputs, hidden = torch.randn(batch, 13), torch.randn(layers, batch, 21)
    with torch.inference_mode():
        expected_output, expected_hidden = rnn(inputs.unsqueeze(1), hidden)
        layouts = [rnn._flat_weights]
        if batch >= MIN_ROWS:
            layouts.append(InputMajorWeights().get_all(rnn._flat_weights))
        for weights in layouts:
            output, new_hidden = gru_layers(inputs, hidden, weights)
            assert torch.equal(output, expected_output[:, 0])
            assert torch.equal(new_hidden, expected_hidden)
