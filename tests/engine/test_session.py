"""DecodeSession: stepping equals the full decode; back and force are exact."""

import threading
from dataclasses import replace

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.decoding.scripted import ScriptedModel, peaked, scripted_memory
from attnscope.engine.errors import DecodeCancelled
from attnscope.engine.session import DecodeSession
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model

V = 12
CONFIGS = {
    "greedy": DecodeConfig(max_length=12),
    "beam": DecodeConfig(strategy="beam", beam_size=3, n_best=2, max_length=12),
    "sampling": DecodeConfig(strategy="sampling", seed=4, top_k=4, max_length=12),
}


def wandering(b, prefix):
    weights = {4 + len(prefix) % 5: 0.4, 4 + sum(prefix) % 7: 0.3, EOS_ID: 0.04 * len(prefix)}
    return peaked(V, weights)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    config = ModelConfig(
        src_vocab=20,
        tgt_vocab=16,
        embed_dim=8,
        text_encoder=TextEncoderConfig(hidden=8, dropout=0.0),
        attention=AttentionConfig(kind="multihead", heads=2),
        decoder=DecoderConfig(hidden=16, dropout=0.0),
    )
    model = build_model(config).eval()
    with torch.no_grad():
        memory = model.encode(torch.tensor([[5, 9, 13, 7, 4]]), torch.tensor([5]))
    return model, memory


def scripted_session(strategy, **changes):
    config = replace(CONFIGS[strategy], **changes)
    return DecodeSession(ScriptedModel(V, wandering, num_heads=2), scripted_memory([4]), config)


@pytest.mark.parametrize("strategy", CONFIGS)
def test_stepping_to_the_end_equals_decode(strategy, tiny_model):
    model, memory = tiny_model
    session = DecodeSession(model, memory, CONFIGS[strategy])
    while not session.done:
        session.step()
    (full,) = decode(model, memory, CONFIGS[strategy])
    assert session.tokens == full.tokens
    np.testing.assert_array_equal(session.attention_matrix(), full.best.attention)
    assert session.attention_matrix().shape == (len(full.tokens), 2, 5)
    assert len(session.history) == len(full.steps)
    assert [s.tokens.tolist() for s in session.history] == [s.tokens.tolist() for s in full.steps]
    assert [h.tokens for h in session.result().hypotheses] == [h.tokens for h in full.hypotheses]


@pytest.mark.parametrize("strategy", CONFIGS)
def test_back_restores_exactly(strategy):
    session = scripted_session(strategy, min_length=6)
    session.run(until=3)
    tokens, scores = session.tokens, session.current().score
    tree_size = len(session.tree)
    fourth = session.step()
    undone = session.back()
    assert undone is fourth
    assert session.step_index == 3 and session.tokens == tokens
    assert session.current().score == scores
    assert len(session.tree) == tree_size
    again = session.step()  # the same next step, sampling included
    assert again.tokens.tolist() == fourth.tokens.tolist()
    np.testing.assert_array_equal(again.scores, fourth.scores)
    np.testing.assert_array_equal(again.node_ids, fourth.node_ids)
    np.testing.assert_array_equal(again.attention, fourth.attention)


def test_back_to_the_start_and_reset():
    session = scripted_session("greedy")
    first = session.run()
    while session.back() is not None:
        pass
    assert session.step_index == 0 and session.tokens == () and session.back() is None
    assert [s.token for s in session.run()] == [s.token for s in first]
    session.reset()
    assert session.history == [] and not session.done


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_force_changes_the_token_and_the_continuation(strategy):
    session = scripted_session(strategy)
    original = session.run()
    original_tokens = session.tokens
    chosen = original[1].token
    alternative = int(next(t for t in original[1].topk_ids[0] if t not in (chosen, EOS_ID)))
    forced = session.force(alternative, at_step=1)
    assert forced.forced and forced.step == 1 and forced.token == alternative
    assert session.step_index == 2
    assert session.history[0] is original[0]  # earlier steps are kept
    session.run()
    assert session.tokens[:2] == (original_tokens[0], alternative)
    assert session.tokens != original_tokens
    assert session.done


def test_force_defaults_to_the_latest_step_and_validates():
    session = scripted_session("greedy")
    session.run(until=2)
    forced = session.force(9)
    assert forced.step == 1 and session.tokens[-1] == 9
    with pytest.raises(ValueError, match=r"steps 0\.\.2"):
        session.force(5, at_step=4)
    with pytest.raises(ValueError, match="vocabulary"):
        session.force(V + 3)
    assert session.tokens[-1] == 9  # a rejected force changes nothing


def test_stepping_a_finished_session_is_an_error():
    session = scripted_session("greedy")
    session.run()
    with pytest.raises(ValueError, match="finished"):
        session.step()


def test_run_until_and_cancel():
    session = scripted_session("beam")
    assert len(session.run(until=2)) == 2
    cancel = threading.Event()
    steps = session.run_iter(cancel=cancel)
    next(steps)
    cancel.set()
    with pytest.raises(DecodeCancelled):
        next(steps)
    assert session.step_index == 3  # steps taken before the cancel stay


def test_beam_session_exposes_the_tree():
    session = scripted_session("beam")
    session.step()
    session.step()
    tree = session.tree
    assert len(tree) == 1 + sum(s.tokens.size for s in session.history)
    assert not tree.pruned[session.history[-1].node_ids].any()  # the live beam is not pruned
    assert tree.path(session.current().node_id)[-1] == session.current().node_id


def test_session_needs_a_single_input():
    with pytest.raises(ValueError, match="one input"):
        DecodeSession(ScriptedModel(V, wandering), scripted_memory([3, 4]), DecodeConfig())


def test_no_attention_model_gives_an_empty_heads_axis():
    session = DecodeSession(
        ScriptedModel(V, wandering, num_heads=0), scripted_memory([4]), DecodeConfig()
    )
    session.run(until=3)
    assert session.attention_matrix().shape == (3, 0, 4)


def test_forcing_an_impossible_token_in_a_beam_is_refused():
    never = ScriptedModel(V, lambda b, p: peaked(V, {4: 0.5, 5: 0.5}, floor=0.0))
    session = DecodeSession(never, scripted_memory([3]), CONFIGS["beam"])
    session.step()
    before = session.tokens
    with pytest.raises(ValueError, match="probability 0"):
        session.force(9)
    assert session.tokens == before and session.step_index == 1
    session.step()
    assert session.step_index == 2
