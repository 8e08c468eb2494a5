"""The one switch between the reference math and the fast eval step: both paths agree."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from attnscope.engine.decoding import DecodeConfig, decode
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.fast_step import (
    fast_paths_on,
    grouped_dot_scores,
    row_groups,
    use_fast_paths,
)
from attnscope.models.registry import build_model
from attnscope.models.state import EncoderMemory

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


def repeated_keys_scores(keys, group, query):
    """The reference's product on keys repeated per row: (G·g, 1, S)."""
    return torch.bmm(keys.repeat_interleave(group, 0), query.unsqueeze(2)).transpose(1, 2)


@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="widths measured on MKL")
@pytest.mark.parametrize("group", range(2, 13))
def test_grouped_dot_scores_give_the_one_column_products_bits(group):
    """Every width the grouped product pads to rounds as the reference's one column per
    row (the bench's beam shape among them: 32 inputs × 5 rows, 30 positions, 512 wide)."""
    torch.manual_seed(group)
    with torch.inference_mode():
        for groups, length, width in [(2, 1, 16), (3, 7, 100), (32, 30, 512), (5, 64, 1000)]:
            keys = torch.randn(groups, length, width)
            query = torch.randn(groups * group, width)
            ours = grouped_dot_scores(keys, group, query)
            assert torch.equal(ours, repeated_keys_scores(keys, group, query))


def test_row_groups_finds_a_beams_rows_once_per_memory():
    keys = torch.randn(4, 6, 8)
    memory = EncoderMemory(values=keys, mask=torch.ones(4, 6, dtype=torch.bool), final=keys[:, 0])
    beam = memory.repeat_interleave(3)
    beam = replace(beam, keys=beam.values)
    unique, group = row_groups(beam)
    assert group == 3 and torch.equal(unique, keys)
    assert row_groups(beam)[0] is unique  # worked out once
    assert row_groups(replace(memory, keys=keys)) is None  # distinct rows
    one_input = memory.index_select(torch.zeros(3, dtype=torch.long))
    assert row_groups(replace(one_input, keys=one_input.values)) is None  # a single group
    repeated = memory.index_select(torch.tensor([0, 0, 0, 0, 1, 1, 2, 2, 3, 3]))
    assert row_groups(replace(repeated, keys=repeated.values))[1] == 2  # first run longer


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
