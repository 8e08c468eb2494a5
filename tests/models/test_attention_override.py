"""The what-if hook: every attention kind takes replacement weights, and gives raw scores."""

import pytest
import torch

from attnscope.models.attention import masked_softmax
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.fast_step import use_fast_paths
from attnscope.models.registry import build_model

ATTENTIONS = ["additive", "dot", "general", "location", "location_sensitive", "multihead"]
LENGTHS = torch.tensor([6, 4, 2])


def tiny_model(attention: str, **decoder) -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(
        src_vocab=23,
        tgt_vocab=19,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=8, dropout=0.0, max_positions=16),
        attention=AttentionConfig(
            kind=attention, heads=2 if attention == "multihead" else 1, location_kernel=3
        ),
        decoder=DecoderConfig(hidden=16, dropout=0.0, **decoder),  # dot: == memory size,
    )
    return build_model(config).eval()


def padded_memory(model):
    generator = torch.Generator().manual_seed(1)
    src = torch.randint(4, 23, (3, 6), generator=generator)
    src[1, 4:] = 0
    src[2, 2:] = 0
    with torch.no_grad():
        return model.encode(src, LENGTHS)


def random_override(model, memory, seed=2):
    """(B, heads, S) positive on real positions, 0 on padding, rows not yet normalised."""
    generator = torch.Generator().manual_seed(seed)
    batch, length = memory.mask.shape
    raw = torch.rand(batch, model.num_heads, length, generator=generator) + 0.1
    return raw * memory.mask.unsqueeze(1)


def expected_context(attention, weights, memory):
    """weights · values, written out per kind: one head over the values, or each head
    over its projected values, concatenated and projected."""
    if attention.heads == 1:
        return torch.einsum("bs,bsh->bh", weights[:, 0], memory.values)
    _, values = memory.keys  # (B, h, S, d)
    per_head = torch.einsum("bhs,bhsd->bhd", weights, values)
    return attention.out_proj(per_head.reshape(weights.size(0), -1))


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_the_module_makes_its_context_from_the_override(kind):
    model = tiny_model(kind)
    memory = padded_memory(model)
    state = model.init_state(memory)
    override = random_override(model, memory)
    override = override / override.sum(-1, keepdim=True)
    attention = model.decoder.attention
    with torch.no_grad():
        context, weights = attention(state.hidden[-1], memory, state, override)
        expected = expected_context(attention, override, memory)
    assert torch.equal(weights, override)
    torch.testing.assert_close(context, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ATTENTIONS)
@pytest.mark.parametrize("placement", ["bahdanau", "luong"])
def test_the_step_returns_the_normalised_override_and_keeps_padding_at_zero(kind, placement):
    model = tiny_model(kind, placement=placement)
    memory = padded_memory(model)
    state = model.init_state(memory)
    override = random_override(model, memory)
    tokens = torch.full((3,), 2)
    with torch.no_grad():
        log_probs, new_state, attn = model.step(tokens, state, memory, override)
        _, _, own = model.step(tokens, state, memory)
    normalised = override / override.sum(-1, keepdim=True)
    assert torch.equal(attn, normalised)
    assert torch.all(attn[1, :, 4:] == 0) and torch.all(attn[2, :, 2:] == 0)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, model.num_heads))
    assert not torch.allclose(attn, own)  # the model's own weights were not used
    assert torch.equal(new_state.alignment, normalised)
    assert torch.equal(new_state.cumulative, state.cumulative + normalised)
    assert log_probs.shape == (3, 19)


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_an_override_step_is_the_same_with_the_fast_path_on_or_off(kind):
    """The fast step steps aside for an override step: both run the reference math."""
    model = tiny_model(kind)
    memory = padded_memory(model)
    state = model.init_state(memory)
    override = random_override(model, memory)
    tokens = torch.full((3,), 2)
    with torch.no_grad():
        fast = model.step(tokens, state, memory, override)
        use_fast_paths(model, False)
        reference = model.step(tokens, state, memory, override)
    assert torch.equal(fast[0], reference[0])
    assert torch.equal(fast[2], reference[2])


def test_location_sensitive_attention_convolves_the_edited_alignment_next():
    model = tiny_model("location_sensitive")
    memory = padded_memory(model)
    state = model.init_state(memory)
    override = random_override(model, memory)
    tokens = torch.full((3,), 5)
    with torch.no_grad():
        _, edited, _ = model.step(tokens, state, memory, override)
        _, own, _ = model.step(tokens, state, memory)
        _, _, after_edit = model.step(tokens, edited, memory)
        _, _, after_own = model.step(tokens, own, memory)
        # what the next step's scores are when it reads the edited alignment
        attention = model.decoder.attention
        expected = masked_softmax(attention.scores(edited.hidden[-1], memory, edited), memory.mask)
    torch.testing.assert_close(after_edit, expected, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(after_edit, after_own)


def test_the_decoder_without_attention_refuses_an_override():
    model = tiny_model("none")
    memory = padded_memory(model)
    state = model.init_state(memory)
    with pytest.raises(ValueError, match="no attention"):
        model.step(torch.full((3,), 2), state, memory, torch.ones(3, 1, 6) / 6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda w: w[:, :, :5], "shape"),
        (lambda w: w.unsqueeze(0), "shape"),
        (lambda w: w.index_fill(2, torch.tensor([0]), -0.5), "negative"),
        (lambda w: w.index_fill(2, torch.tensor([0]), float("nan")), "NaN"),
        (lambda w: w.index_fill(2, torch.tensor([0]), float("inf")), "infinite"),
        (lambda w: w + 0.1, "padding"),
        (lambda w: w.index_fill(0, torch.tensor([1]), 0.0), "no weight"),
        (lambda w: (w * 10).long(), "floating point"),
    ],
    ids=["short", "extra-dim", "negative", "nan", "inf", "padding", "empty-row", "integer"],
)
def test_bad_overrides_are_refused_with_a_message(change, message):
    model = tiny_model("additive")
    memory = padded_memory(model)
    state = model.init_state(memory)
    with pytest.raises(ValueError, match=message):
        model.step(torch.full((3,), 2), state, memory, change(random_override(model, memory)))


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_softmax_of_the_raw_scores_is_the_attention(kind):
    model = tiny_model(kind)
    generator = torch.Generator().manual_seed(3)
    src = torch.randint(4, 23, (3, 6), generator=generator)
    src[1, 4:] = 0
    src[2, 2:] = 0
    tgt = torch.randint(4, 19, (3, 5), generator=generator)
    with torch.no_grad():
        _, attn = model(src, LENGTHS, tgt)  # (B, T, heads, S)
        scores = model.attention_scores(model.encode(src, LENGTHS), tgt)
    assert scores.shape == attn.shape and scores.dtype == torch.float32
    assert torch.all(scores[1, :, :, 4:] == float("-inf"))
    assert torch.isfinite(scores[0]).all()
    torch.testing.assert_close(scores.softmax(-1), attn, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(scores, attn)  # raw scores, not the weights


def test_scores_follow_the_replayed_overrides():
    model = tiny_model("location_sensitive")
    memory = padded_memory(model)
    override = random_override(model, memory)
    tgt = torch.tensor([[2, 7, 8], [2, 9, 4], [2, 5, 5]])
    with torch.no_grad():
        scores = model.attention_scores(memory, tgt, {1: override})
        plain = model.attention_scores(memory, tgt)
        state = model.init_state(memory)
        _, state, _ = model.step(tgt[:, 0], state, memory)
        _, state, _ = model.step(tgt[:, 1], state, memory, override)
        _, _, last = model.step(tgt[:, 2], state, memory)
    assert torch.equal(scores[:, :2], plain[:, :2])  # up to the edit: the model's own
    torch.testing.assert_close(scores[:, 2].softmax(-1), last, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(scores[:, 2], plain[:, 2])


def test_a_model_without_attention_has_no_scores():
    model = tiny_model("none")
    with pytest.raises(ValueError, match="no attention"):
        model.attention_scores(padded_memory(model), torch.full((3, 2), 2))
