"""State reorder: reordering then stepping equals stepping then reordering."""

import torch

from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model


def test_reorder_commutes_with_step():
    config = ModelConfig(
        src_vocab=15,
        tgt_vocab=12,
        embed_dim=6,
        text_encoder=TextEncoderConfig(hidden=5, cell="lstm", dropout=0.0),
        attention=AttentionConfig(kind="location_sensitive", location_kernel=3),
        decoder=DecoderConfig(hidden=7, cell="lstm", dropout=0.0, input_feed=True),
    )
    model = build_model(config).eval()
    src, lengths = torch.randint(4, 15, (3, 5)), torch.tensor([5, 3, 4])
    with torch.no_grad():
        memory = model.encode(src, lengths)
        state = model.init_state(memory)
        tokens = torch.tensor([5, 6, 7])
        _, state, _ = model.step(tokens, state, memory)  # non-trivial alignment/feed
        order = torch.tensor([2, 0, 0, 1])
        lp_a, state_a, attn_a = model.step(
            tokens[order], state.index_select(order), memory.index_select(order)
        )
        lp_b, state_b, attn_b = model.step(tokens, state, memory)
    torch.testing.assert_close(lp_a, lp_b[order])
    torch.testing.assert_close(attn_a, attn_b[order])
    torch.testing.assert_close(state_a.hidden, state_b.hidden[:, order])
    torch.testing.assert_close(state_a.cell, state_b.cell[:, order])
    torch.testing.assert_close(state_a.cumulative, state_b.cumulative[order])


def test_repeat_interleave_for_beams():
    config = ModelConfig(
        src_vocab=9,
        tgt_vocab=9,
        embed_dim=4,
        attention=AttentionConfig(kind="multihead", heads=2),
        text_encoder=TextEncoderConfig(hidden=4),
        decoder=DecoderConfig(hidden=8),
    )
    model = build_model(config).eval()
    with torch.no_grad():
        memory = model.encode(torch.randint(4, 9, (2, 3)), torch.tensor([3, 2]))
    repeated = memory.repeat_interleave(3)
    assert repeated.values.shape[0] == 6
    assert torch.equal(repeated.mask[3], memory.mask[1])
    keys, values = repeated.keys
    assert keys.shape[0] == 6 and torch.equal(values[5], memory.keys[1][1])
