"""Tiny Marian and BART folders decoded by AttnScope's own loop equal Hugging Face's generate()."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.session import DecodeSession

from .generate_reference import (
    MAX_NEW,
    assert_same_attention,
    assert_same_tokens,
    generate_plain,
)
from .tiny_models import SENTENCES


def _batch(loaded):
    return loaded.tokenizer(SENTENCES, return_tensors="pt", padding=True)


def _ours(loaded, config: DecodeConfig):
    batch = _batch(loaded)
    memory = loaded.step_model.encode(batch.input_ids, batch.attention_mask)
    return decode(loaded.step_model, memory, config)


def _generate(loaded, **settings):
    """generate() with nothing of its own on top: no forced eos, no length tricks."""
    return generate_plain(loaded.model, _batch(loaded), **settings)


def _config(**settings) -> DecodeConfig:
    return DecodeConfig(
        **{"max_length": MAX_NEW, "max_length_ratio": 0, "topk_alternatives": 0} | settings
    )


def test_greedy_tokens_and_cross_attention_equal_generate(loaded):
    results = _ours(loaded, _config(strategy="greedy"))
    out = _generate(loaded, num_beams=1)
    theirs = assert_same_tokens(loaded, results, out)
    assert len({len(t) for t in theirs}) > 1, "the tiny model should end at different lengths"
    lengths = _batch(loaded).attention_mask.sum(dim=1).tolist()
    assert_same_attention(loaded, results, out, lengths, beams=False)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({"length_penalty": "none"}, {"length_penalty": 0.0}),
        ({"length_penalty": "average"}, {"length_penalty": 1.0}),
    ],
)
def test_beam_tokens_equal_generate(loaded, ours, theirs):
    results = _ours(loaded, _config(strategy="beam", beam_size=3, **ours))
    out = _generate(loaded, num_beams=3, early_stopping=True, **theirs)
    assert_same_tokens(loaded, results, out)


def test_beam_attention_follows_generate_beam_indices(loaded):
    results = _ours(loaded, _config(strategy="beam", beam_size=3, length_penalty="none"))
    out = _generate(loaded, num_beams=3, early_stopping=True, length_penalty=0.0)
    lengths = _batch(loaded).attention_mask.sum(dim=1).tolist()
    assert_same_attention(loaded, results, out, lengths, beams=True)


def test_step_leaves_its_state_unchanged_and_reorders_rows(loaded):
    """Back and the beam's save points need states that a later step never changes."""
    model = loaded.step_model
    batch = _batch(loaded)
    memory = model.encode(batch.input_ids, batch.attention_mask)
    bos = torch.full((len(SENTENCES),), BOS_ID)
    first, state, attention = model.step(bos, model.init_state(memory), memory)
    assert attention.shape == (len(SENTENCES), model.num_heads, batch.input_ids.size(1))
    torch.testing.assert_close(attention.sum(dim=-1), torch.ones(len(SENTENCES), model.num_heads))
    assert (attention[~memory.mask[:, None, :].expand_as(attention)] == 0).all()
    tokens = first.argmax(dim=1)
    again, _, _ = model.step(tokens, state, memory)
    model.step(tokens, state, memory)  # a second step from the same state
    torch.testing.assert_close(model.step(tokens, state, memory)[0], again)
    order = torch.tensor([2, 0])
    reordered, _, _ = model.step(
        tokens[order], model.reorder(state, order), memory.index_select(order)
    )
    torch.testing.assert_close(reordered, again[order])


def test_log_probs_are_the_models_in_attnscope_ids(loaded):
    """eos 3 holds the probability of the model's eos; every token keeps its own."""
    model = loaded.step_model
    batch = _batch(loaded)
    memory = model.encode(batch.input_ids, batch.attention_mask)
    bos = torch.full((len(SENTENCES),), BOS_ID)
    with torch.inference_mode():
        ours, _, _ = model.step(bos, model.init_state(memory), memory)
        config = loaded.model.config
        start = torch.full((len(SENTENCES), 1), config.decoder_start_token_id)
        # Marian's start token is its pad: say it is no padding, as generate() does
        logits = loaded.model(
            **batch, decoder_input_ids=start, decoder_attention_mask=torch.ones_like(start)
        ).logits[:, -1]
    theirs = logits.log_softmax(dim=-1)
    torch.testing.assert_close(ours[:, EOS_ID], theirs[:, config.eos_token_id])
    bos = loaded.vocab.to_hf[BOS_ID]  # Marian: its start token; BART: <s>
    torch.testing.assert_close(ours[:, BOS_ID], theirs[:, bos])
    torch.testing.assert_close(ours.exp().sum(dim=1), torch.ones(len(SENTENCES)))
    torch.testing.assert_close(ours.sort().values, theirs.sort().values)


def test_a_session_steps_back_and_forces_exactly(loaded):
    """The GUI's stepping on the cache state: Back then run again gives the same decode,
    and a forced token continues as a decode with that forced prefix does."""
    batch = loaded.tokenizer(SENTENCES[:1], return_tensors="pt")
    memory = loaded.step_model.encode(batch.input_ids, batch.attention_mask)
    config = _config(strategy="beam", beam_size=3, min_length=6)
    session = DecodeSession(loaded.step_model, memory, config)
    session.run()
    tokens, attention = session.tokens, session.attention_matrix()
    for _ in range(4):
        session.back()
    session.run()
    assert session.tokens == tokens
    np.testing.assert_array_equal(session.attention_matrix(), attention)
    greedy = replace(config, strategy="greedy")
    session = DecodeSession(loaded.step_model, memory, greedy)
    session.run()
    tokens = session.tokens
    forced = next(t for t in range(4, 10) if t != tokens[1])
    session.force(forced, at_step=1)
    session.run()
    prefix = [tokens[0], forced]
    expected = decode(loaded.step_model, memory, greedy, forced_prefix=prefix)[0].best
    assert session.tokens == expected.tokens
    np.testing.assert_allclose(session.attention_matrix(), expected.attention, atol=1e-6)


def test_decoding_past_the_decoder_positions_says_so(marian):
    """Marian's sinusoidal positions end at max_position_embeddings (64 in the tiny one)."""
    assert marian.step_model.max_target_length == 64
    batch = _batch(marian)
    memory = marian.step_model.encode(batch.input_ids, batch.attention_mask)
    config = _config(strategy="greedy", max_length=65, min_length=65)
    with pytest.raises(ValueError, match="has 64 positions; set the maximum output length"):
        decode(marian.step_model, memory, config)
    assert (
        len(decode(marian.step_model, memory, replace(config, max_length=64))[0].best.tokens) == 64
    )
