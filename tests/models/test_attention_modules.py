"""Attention modules checked against peers and against their defining properties."""

import torch
from torch import nn

from attnscope.models.attention import (
    LocationSensitiveAttention,
    LuongLocationAttention,
    MultiHeadAttention,
)
from attnscope.models.config import AttentionConfig
from attnscope.models.encoders import lengths_to_mask
from attnscope.models.state import DecoderState, EncoderMemory


def memory_for(attention, values, lengths):
    mask = lengths_to_mask(lengths, values.size(1))
    memory = EncoderMemory(values=values, mask=mask, final=values.mean(1))
    return EncoderMemory(
        values=values, mask=mask, final=memory.final, keys=attention.precompute(values)
    )


def test_multihead_matches_torch_multiheadattention():
    embed, kdim, heads = 16, 10, 4
    ours = MultiHeadAttention(query_size=embed, value_size=kdim, hidden=embed, heads=heads)
    peer = nn.MultiheadAttention(embed, heads, kdim=kdim, vdim=kdim, batch_first=True)
    with torch.no_grad():
        peer.q_proj_weight.copy_(ours.query_proj.weight)
        peer.k_proj_weight.copy_(ours.key_proj.weight)
        peer.v_proj_weight.copy_(ours.value_proj.weight)
        peer.in_proj_bias.copy_(
            torch.cat([ours.query_proj.bias, ours.key_proj.bias, ours.value_proj.bias])
        )
        peer.out_proj.weight.copy_(ours.out_proj.weight)
        peer.out_proj.bias.copy_(ours.out_proj.bias)
    query = torch.randn(3, embed)
    values = torch.randn(3, 6, kdim)
    lengths = torch.tensor([6, 4, 1])
    memory = memory_for(ours, values, lengths)
    state = DecoderState(hidden=torch.zeros(1, 3, embed))
    context, weights = ours(query, memory, state)
    ref_out, ref_weights = peer(
        query.unsqueeze(1),
        values,
        values,
        key_padding_mask=~memory.mask,
        need_weights=True,
        average_attn_weights=False,
    )
    torch.testing.assert_close(context, ref_out.squeeze(1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights.squeeze(2), atol=1e-6, rtol=1e-5)
    assert torch.all(weights[2, :, 1:] == 0)


def test_location_attention_renormalises_to_real_length():
    attention = LuongLocationAttention(query_size=5, value_size=4, max_positions=10)
    values = torch.randn(2, 6, 4)
    memory = memory_for(attention, values, torch.tensor([6, 3]))
    query = torch.randn(2, 5)
    _, weights = attention(query, memory, DecoderState(hidden=torch.zeros(1, 2, 5)))
    assert torch.all(weights[1, :, 3:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 1))
    # the short row is the long row's first three scores, renormalised
    raw = torch.softmax(attention.position_scores(query[1])[:3], -1)
    torch.testing.assert_close(weights[1, 0, :3], raw)


def test_location_sensitive_depends_on_previous_alignment():
    config = AttentionConfig(kind="location_sensitive", location_channels=4, location_kernel=3)
    attention = LocationSensitiveAttention(5, 4, 6, config)
    values = torch.randn(1, 5, 4)
    memory = memory_for(attention, values, torch.tensor([5]))
    query = torch.randn(1, 5)
    first = torch.tensor([[[1.0, 0, 0, 0, 0]]])
    last = torch.tensor([[[0, 0, 0, 0, 1.0]]])
    hidden = torch.zeros(1, 1, 5)
    _, w_first = attention(
        query, memory, DecoderState(hidden=hidden, alignment=first, cumulative=first)
    )
    _, w_last = attention(
        query, memory, DecoderState(hidden=hidden, alignment=last, cumulative=last)
    )
    assert not torch.allclose(w_first, w_last)


def test_cumulative_location_sensitive_reads_the_coverage():
    config = AttentionConfig(kind="location_sensitive", location_kernel=3, cumulative=True)
    attention = LocationSensitiveAttention(5, 4, 6, config)
    memory = memory_for(attention, torch.randn(1, 5, 4), torch.tensor([5]))
    query, hidden = torch.randn(1, 5), torch.zeros(1, 1, 5)
    same_prev = torch.tensor([[[0.2, 0.2, 0.2, 0.2, 0.2]]])
    a = DecoderState(hidden=hidden, alignment=same_prev, cumulative=same_prev)
    b = DecoderState(hidden=hidden, alignment=same_prev, cumulative=same_prev * 3)
    assert not torch.allclose(attention(query, memory, a)[1], attention(query, memory, b)[1])


def test_additive_inference_fast_paths_match_the_plain_computation():
    """The fast step's additive attention on a large padded batch under inference_mode scores
    only real positions, in a reused buffer: same weights and context as the module's own
    (reference) computation."""
    from attnscope.models.attention import BahdanauAttention
    from attnscope.models.fast_step import SCRATCH_MIN_ELEMENTS, FastStep

    torch.manual_seed(0)
    attention = BahdanauAttention(query_size=32, value_size=24, hidden=512)
    values = torch.randn(8, 16, 24)
    lengths = torch.tensor([16, 9, 3, 12, 5, 16, 1, 7])
    memory = memory_for(attention, values, lengths)
    assert memory.keys.numel() >= SCRATCH_MIN_ELEMENTS
    state = DecoderState(hidden=torch.zeros(1, 8, 32))
    queries = [torch.randn(8, 32) for _ in range(2)]
    plain = [attention(q, memory, state) for q in queries]
    with torch.inference_mode():
        # the second reuses the buffer
        fast = [FastStep().attend(attention, q, memory, state) for q in queries]
    assert memory.derived  # the packed positions were kept for the next step
    for (context, weights), (fast_context, fast_weights) in zip(plain, fast, strict=True):
        torch.testing.assert_close(fast_weights, weights, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(fast_context, context, atol=1e-6, rtol=1e-5)
        padding = ~memory.mask.unsqueeze(1)
        assert torch.all(fast_weights[padding] == 0)
        torch.testing.assert_close(fast_weights.sum(-1), torch.ones(8, 1))


def test_memory_padding_is_none_without_padding():
    values = torch.randn(2, 5, 4)
    full = EncoderMemory(values=values, mask=torch.ones(2, 5, dtype=torch.bool), final=values[:, 0])
    assert full.padding is None
    padded = EncoderMemory(
        values=values, mask=lengths_to_mask(torch.tensor([5, 2]), 5), final=values[:, 0]
    )
    assert padded.padding.tolist() == [[[False] * 5], [[False, False, True, True, True]]]
