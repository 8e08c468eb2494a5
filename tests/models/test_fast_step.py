"""The one switch between the reference math and the fast eval step: both paths agree."""

import numpy as np
import pytest
import torch

from attnscope.engine.decoding import DecodeConfig, decode
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.fast_step import fast_paths_on, use_fast_paths
from attnscope.models.registry import build_model

DECODERS = [
    ("additive", "gru", "bahdanau"),
    ("additive", "lstm", "luong"),
    ("location_sensitive", "lstm", "bahdanau"),
    ("multihead", "gru", "luong"),
    ("none", "lstm", "bahdanau"),
]


def translation_model(attention: str, cell: str, placement: str):
    config = ModelConfig(
        src_vocab=30,
        tgt_vocab=25,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=8, cell=cell, dropout=0.0, max_positions=40),
        attention=AttentionConfig(
            kind=attention, heads=4 if attention == "multihead" else 1, hidden=512
        ),
        decoder=DecoderConfig(hidden=16, cell=cell, placement=placement, layers=2),
    )
    torch.manual_seed(3)
    return build_model(config).eval()


def greedy_steps(model, src, lengths, steps=6):
    """Log-probs (B, steps, V), attention and final hidden of a greedy rollout."""
    memory = model.encode(src, lengths)
    state, tokens = model.init_state(memory), torch.full((src.size(0),), 2)
    log_probs, attns = [], []
    for _ in range(steps):
        lp, state, attn = model.step(tokens, state, memory)
        log_probs.append(lp)
        attns.append(attn)
        tokens = lp.argmax(-1)
    attn = None if attns[0] is None else torch.stack(attns, 1)
    return torch.stack(log_probs, 1), attn, state.hidden


def both_paths(model, fn):
    """``fn()`` with the fast step on, then off (the model is left switched on)."""
    try:
        use_fast_paths(model, True)
        fast = fn()
        use_fast_paths(model, False)
        return fast, fn()
    finally:
        use_fast_paths(model, True)


def test_the_switch_is_on_by_default_and_turns_off():
    model = translation_model("additive", "gru", "bahdanau")
    assert fast_paths_on(model) and model.decoder.fast_step is not None
    assert use_fast_paths(model, False) is model and not fast_paths_on(model)
    assert model.decoder.fast_step is None
    use_fast_paths(model, True)
    assert fast_paths_on(model)


def test_training_runs_the_reference_math_whatever_the_switch():
    model = translation_model("additive", "gru", "bahdanau").train()
    assert model.decoder._fast() is None
    model.eval()
    assert model.decoder._fast() is model.decoder.fast_step


@pytest.mark.parametrize(("attention", "cell", "placement"), DECODERS, ids=str)
def test_batch_one_stepping_is_bit_identical_on_both_paths(attention, cell, placement):
    """Batch 1 (the GUI's stepping): no input-major copies, no packing; the same bits."""
    model = translation_model(attention, cell, placement)
    src, lengths = torch.randint(4, 30, (1, 9)), torch.tensor([9])
    with torch.inference_mode():
        fast, reference = both_paths(model, lambda: greedy_steps(model, src, lengths))
    for a, b in zip(fast, reference, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.parametrize(("attention", "cell", "placement"), DECODERS, ids=str)
def test_padded_batch_agrees_on_both_paths(attention, cell, placement):
    """A large padded batch (input-major copies, scratch pool, packed additive scorer)
    agrees with the reference to rounding; padding keeps exactly 0 attention."""
    model = translation_model(attention, cell, placement)
    src = torch.randint(4, 30, (24, 20))
    lengths = torch.randint(1, 21, (24,))
    lengths[0] = 20
    with torch.inference_mode():
        fast, reference = both_paths(model, lambda: greedy_steps(model, src, lengths))
        forced = torch.randint(4, 25, (24, 5))
        fast_tf, reference_tf = both_paths(model, lambda: model(src, lengths, forced))
    for a, b in [*zip(fast, reference, strict=True), *zip(fast_tf, reference_tf, strict=True)]:
        if a is None:
            assert b is None
            continue
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)
    if fast[1] is not None:
        padding = torch.arange(20)[None, None, None, :] >= lengths[:, None, None, None]
        assert torch.all(fast[1].masked_select(padding) == 0)  # attn (B, T, heads, S)
    if attention == "additive":  # the packed scorer did run
        with torch.inference_mode():
            memory = model.encode(src, lengths)
            model.step(torch.full((24,), 2), model.init_state(memory), memory)
        assert memory.derived


def test_eval_step_with_autograd_keeps_its_graph():
    """Eval with gradients (attributions): the fast step's log-probs are not written in
    place over the logits, so the gradient is the reference path's."""
    model = translation_model("additive", "gru", "bahdanau")
    src, lengths = torch.randint(4, 30, (5, 9)), torch.tensor([9, 8, 7, 9, 3])

    def gradient():
        model.zero_grad()
        log_probs, _, _ = greedy_steps(model, src, lengths, steps=2)
        log_probs[:, -1, 7].sum().backward()
        return log_probs.detach(), model.decoder.output.proj.weight.grad.clone()

    fast, reference = both_paths(model, gradient)
    for a, b in zip(fast, reference, strict=True):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("attention", ["general", "dot"])
def test_batched_beam_over_dot_attention_is_bit_identical_on_both_paths(attention):
    """The grouped dot scores run (k rows per input, inputs leaving the beam) and give
    the reference path's tokens, scores, log-probs and attention bit for bit."""
    config = ModelConfig(
        src_vocab=30,
        tgt_vocab=25,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=16, cell="gru", dropout=0.0),
        attention=AttentionConfig(kind=attention),
        decoder=DecoderConfig(hidden=32, cell="gru", placement="luong", layers=2),
    )
    torch.manual_seed(5)
    model = build_model(config).eval()
    src, lengths = torch.randint(4, 30, (6, 9)), torch.tensor([9, 4, 7, 9, 2, 5])
    decode_config = DecodeConfig(strategy="beam", beam_size=5, n_best=2, max_length=12)

    def beams():
        with torch.inference_mode():
            results = decode(model, model.encode(src, lengths), decode_config)
        return [
            (h.tokens, h.score, np.asarray(h.token_log_probs), np.asarray(h.attention))
            for result in results
            for h in result.hypotheses
        ]

    fast, reference = both_paths(model, beams)
    for ours, theirs in zip(fast, reference, strict=True):
        assert ours[:2] == theirs[:2]
        assert all(np.array_equal(a, b) for a, b in zip(ours[2:], theirs[2:], strict=True))
