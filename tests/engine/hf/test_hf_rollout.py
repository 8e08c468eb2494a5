"""Rollout on a tiny random Marian: its real encoder self-attentions and cross-attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnscope.engine.attention_layers import encoder_rollout, rollout
from attnscope.engine.decoding.config import BOS_ID
from attnscope.engine.hf.rollout import encoder_self_attention, source_mixing


def _one(marian, text="the cat sat on the mat"):
    batch = marian.tokenizer([text], return_tensors="pt")
    return batch.input_ids, batch.attention_mask


def _attentions(loaded, ids, mask):
    """The encoder's self-attention of every layer, from the step model's one pass."""
    return loaded.step_model.encode_with_attention(ids, mask)[1]


def test_encoder_self_attention_is_the_models_own(marian):
    ids, mask = _one(marian)
    memory, attentions = marian.step_model.encode_with_attention(ids, mask)
    torch.testing.assert_close(memory.hidden, marian.step_model.encode(ids, mask).hidden)
    weights = encoder_self_attention(attentions, mask)
    config = marian.model.config
    length = ids.size(1)
    assert weights.shape == (config.encoder_layers, config.encoder_attention_heads, length, length)
    with torch.no_grad():
        out = marian.model(
            input_ids=ids,
            attention_mask=mask,
            decoder_input_ids=torch.tensor([[config.decoder_start_token_id]]),
            output_attentions=True,
        )
    torch.testing.assert_close(weights, torch.stack([a[0] for a in out.encoder_attentions]))


def test_padding_is_cut_off(marian):
    batch = marian.tokenizer(["bird", "the cat sat on the mat"], return_tensors="pt", padding=True)
    ids, mask = _one(marian, "bird")
    alone = source_mixing(_attentions(marian, ids, mask), mask)
    ids, mask = batch.input_ids[:1], batch.attention_mask[:1]
    padded = source_mixing(_attentions(marian, ids, mask), mask)
    assert padded.shape == alone.shape == (2, 2)  # "bird" and eos
    np.testing.assert_allclose(padded, alone, atol=1e-5)


def test_rolled_out_cross_attention_of_a_real_step(marian):
    ids, mask = _one(marian)
    attentions = _attentions(marian, ids, mask)
    mixing = source_mixing(attentions, mask)
    length = ids.size(1)
    assert mixing.shape == (length, length)
    np.testing.assert_allclose(mixing.sum(axis=-1), 1.0, rtol=1e-5)
    # what the rollout adds: the encoder mixes tokens, so M is not the identity
    assert not np.allclose(mixing, np.eye(length), atol=1e-3)
    np.testing.assert_allclose(
        mixing, encoder_rollout(encoder_self_attention(attentions, mask).numpy())
    )
    step_model = marian.step_model
    memory = step_model.encode(ids, mask)
    state = step_model.init_state(memory)
    _, _, attention = step_model.step(torch.tensor([BOS_ID]), state, memory)
    attention = attention.detach().numpy()  # (1, layers · heads, S)
    for layer in (None, step_model.num_layers - 1):
        rolled = rollout(attention, mixing, step_model.num_layers, layer=layer)
        assert rolled.shape == (1, length)
        np.testing.assert_allclose(rolled.sum(axis=-1), 1.0, rtol=1e-5)


def test_more_than_one_input_or_no_weights_is_refused(marian):
    batch = marian.tokenizer(["bird", "a dog"], return_tensors="pt", padding=True)
    attentions = _attentions(marian, batch.input_ids, batch.attention_mask)
    with pytest.raises(ValueError, match="one input"):
        source_mixing(attentions, batch.attention_mask)
    with pytest.raises(ValueError, match="no attention weights"):
        source_mixing((), batch.attention_mask[:1])


def test_a_session_on_the_folder_carries_layers_and_rollout(marian):
    from attnscope.engine.decode_record import snapshot_record, translation_record
    from attnscope.engine.decoding.config import DecodeConfig
    from attnscope.engine.hf.inference import HfInferenceModel

    model = HfInferenceModel(marian, torch.device("cpu"))
    summary = model.summary()
    assert (summary.layers, summary.heads_per_layer, summary.rollout) == (2, 2, True)
    config = DecodeConfig(strategy="beam", beam_size=2, max_length=5, max_length_ratio=0)
    opened = model.open_session("the cat sat", config)
    opened.run()
    snapshot = opened.snapshot()
    size = len(snapshot.source_pieces)
    assert snapshot.num_layers == 2 and snapshot.source_mixing.shape == (size, size)
    record = snapshot_record(snapshot, include_tree=True)
    assert np.shape(record["attention"]) == (len(snapshot.steps), 2, 2, size)
    assert np.shape(record["tree"]["attention"]) == (len(snapshot.tree), 2, 2, size)
    assert np.shape(record["source_mixing"]) == (size, size)
    (translation,) = model.translate(["the cat sat"], config)
    row = translation_record(translation)
    assert np.shape(row["attention"]) == (len(translation.pieces), 2, 2, size)


def test_every_family_rolls_out(loaded):
    batch = loaded.tokenizer(["a dog ran far away"], return_tensors="pt")
    attentions = _attentions(loaded, batch.input_ids, batch.attention_mask)
    mixing = source_mixing(attentions, batch.attention_mask)
    length = int(batch.attention_mask.sum())
    assert mixing.shape == (length, length)
    np.testing.assert_allclose(mixing.sum(axis=-1), 1.0, rtol=1e-5)
