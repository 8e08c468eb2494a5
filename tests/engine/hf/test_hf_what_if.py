"""Attention what-if on tiny Hugging Face models: a step's cross-attention replaced by
given weights (engine/hf/what_if.py), through HfStepModel.step and a DecodeSession."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import BOS_ID, DecodeConfig
from attnscope.engine.hf.what_if import EDITED_ATTENTION, cross_attention_modules
from attnscope.engine.inference import load_inference_model
from attnscope.engine.interventions import AttentionEdit, pin
from attnscope.engine.scores import attention_scores
from attnscope.engine.session import DecodeSession
from attnscope.engine.what_if import what_if

from .tiny_models import SENTENCES

SENTENCE = "the cat sat on the mat"


def _memory(loaded, text: str = SENTENCE):
    batch = loaded.tokenizer([text], return_tensors="pt")
    return loaded.step_model.encode(batch.input_ids, batch.attention_mask)


def _first_step(loaded, override=None):
    model, memory = loaded.step_model, _memory(loaded)
    bos = torch.full((1,), BOS_ID)
    with torch.no_grad():
        return model.step(bos, model.init_state(memory), memory, attention_override=override)


def test_the_models_own_attention_as_an_edit_changes_nothing(loaded):
    log_probs, _, attention = _first_step(loaded)
    edited_log_probs, _, edited_attention = _first_step(loaded, override=attention)
    torch.testing.assert_close(edited_log_probs, log_probs, atol=1e-5, rtol=0)
    torch.testing.assert_close(edited_attention, attention, atol=1e-6, rtol=0)


def test_padding_stays_masked_under_an_edit(loaded):
    """A padded batch with each row's own attention as the edit decodes as without it
    (the edit's masks are the eager path's: padding gets no weight)."""
    model = loaded.step_model
    batch = loaded.tokenizer(SENTENCES, return_tensors="pt", padding=True)
    memory = model.encode(batch.input_ids, batch.attention_mask)
    bos = torch.full((len(SENTENCES),), BOS_ID)
    with torch.no_grad():
        log_probs, _, attention = model.step(bos, model.init_state(memory), memory)
        edited, _, _ = model.step(bos, model.init_state(memory), memory, attention)
    torch.testing.assert_close(edited, log_probs, atol=1e-5, rtol=0)


def test_a_pinned_edit_is_reported_and_changes_the_step(loaded):
    _, _, attention = _first_step(loaded)  # (1, L·H, S)
    pinned = torch.from_numpy(pin(attention[0].numpy(), 1)).unsqueeze(0)
    log_probs = _first_step(loaded)[0]
    edited_log_probs, _, edited = _first_step(loaded, override=pinned)
    torch.testing.assert_close(edited, pinned)
    assert (edited_log_probs - log_probs).abs().max() > 1e-3


def test_a_pinned_layer_reads_exactly_the_pinned_positions_values(marian):
    """By hand: with all attention on position j, each head's context is row j of the
    layer's value projection of the encoder output (Marian: the input of out_proj)."""
    position = 2
    memory = _memory(marian)
    first_layer = cross_attention_modules(marian.model)[0]
    seen = {}
    hook = first_layer.out_proj.register_forward_hook(
        lambda _m, inputs, _out: seen.setdefault("context", inputs[0].detach())
    )
    try:
        _, _, attention = _first_step(marian)
        seen.clear()
        _first_step(marian, override=torch.from_numpy(pin(attention[0].numpy(), position))[None])
    finally:
        hook.remove()
    with torch.no_grad():
        values = first_layer.v_proj(memory.hidden)  # (1, S, D), heads side by side
    torch.testing.assert_close(seen["context"][0, -1], values[0, position], atol=1e-5, rtol=0)


def test_the_configs_are_set_back_even_when_the_edit_is_refused(loaded):
    modules = cross_attention_modules(loaded.model)
    _, _, attention = _first_step(loaded)
    bad = attention.clone()
    bad[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="negative"):
        _first_step(loaded, override=bad)
    wrong_shape = attention[:, :1]
    with pytest.raises(ValueError, match="shape"):
        _first_step(loaded, override=wrong_shape)
    assert all(m.config._attn_implementation != EDITED_ATTENTION for m in modules)
    assert not any(hasattr(m, "_attnscope_attention_edit") for m in modules)


def test_a_session_edit_continues_and_back_undoes_it(marian):
    """DecodeSession.edit_attention on a HF decode: the edited step uses the weights,
    later steps the model's own attention; Back returns to the decode as it was."""
    config = DecodeConfig(strategy="greedy", max_length=8, max_length_ratio=0)
    session = DecodeSession(marian.step_model, _memory(marian), config)
    session.run()
    original = session.current()
    weights = pin(original.attention[0], 3)  # (L·H, S): every layer and head on position 3
    step = session.edit_attention(0, weights)
    np.testing.assert_allclose(step.attention[0], weights, atol=1e-6)
    session.run()
    np.testing.assert_allclose(session.attention_matrix()[0], weights, atol=1e-6)
    while session.back() is not None:
        pass
    session.run()
    assert session.tokens == original.tokens
    np.testing.assert_allclose(session.attention_matrix(), original.attention, atol=1e-6)


def test_an_edit_may_hold_every_layers_heads_of_a_large_model():
    """NLLB-600M reports 12 layers x 16 heads = 192 rows per step; one layer allows 64."""
    edit = AttentionEdit(0, np.full((192, 5), 0.2, dtype=np.float32))
    assert edit.weights.shape == (192, 5)
    with pytest.raises(ValueError, match="at most 4096 heads"):
        AttentionEdit(0, np.full((4097, 1), 1.0, dtype=np.float32))


def test_what_if_on_a_folder_compares_the_edited_decode_with_the_original(marian_dir):
    model = load_inference_model(marian_dir, device="cpu")
    opened = model.open_session(SENTENCE, DecodeConfig(strategy="greedy", max_length=8))
    opened.session.run()
    original = opened.session.attention_matrix()
    result = what_if(opened, 0, pin(original[0], 4))
    assert opened.snapshot().target_pieces == result.after.target_pieces  # left on the edit
    np.testing.assert_allclose(result.after.attention[0], pin(original[0], 4), atol=1e-6)
    np.testing.assert_allclose(result.before.attention, original, atol=1e-6)


def test_raw_scores_are_what_each_steps_attention_is_the_softmax_of(loaded):
    """engine/scores.py on a HF decode: softmax(scores) is the decode's attention at every
    step, also after an edit (there the scores stay the model's own, later steps follow)."""
    config = DecodeConfig(strategy="greedy", max_length=6, max_length_ratio=0)
    memory = _memory(loaded)
    session = DecodeSession(loaded.step_model, memory, config)
    session.run()
    own = session.attention_matrix()[0]  # step 0 as the model attends
    edit = AttentionEdit(0, pin(own, 0))
    session.edit_attention(0, edit)
    session.run()
    attention = session.attention_matrix()  # (T, L·H, S), step 0 the edit
    scores = attention_scores(loaded.step_model, memory, session.tokens, [edit])
    assert scores.shape == attention.shape
    weights = torch.from_numpy(scores).softmax(dim=-1).numpy()
    # at the edited step the first layer's scores are the model's own (later layers'
    # read what the edited layers below them give)
    first = loaded.step_model.heads_per_layer
    np.testing.assert_allclose(weights[0, :first], own[:first], atol=1e-5)
    np.testing.assert_allclose(weights[1:], attention[1:], atol=1e-5)
