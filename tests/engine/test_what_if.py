"""The session-level what-if: edit a step's attention, continue, undo, replay, compare."""

import json

import numpy as np
import pytest
import torch
from helpers_checkpoint import captioning_config, translation_config

from attnscope.engine.decoding import DecodeConfig, StepModel
from attnscope.engine.decoding.scripted import ScriptedModel, eos_heavy, scripted_memory
from attnscope.engine.errors import DecodeCancelled
from attnscope.engine.interventions import (
    AttentionEdit,
    ForceToken,
    intervention_from_dict,
    pin,
    zero,
)
from attnscope.engine.session import DecodeSession
from attnscope.engine.snapshot import OpenSession, TargetLabels
from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

ATTENTIONS = ["additive", "dot", "general", "location", "location_sensitive", "multihead"]
SOURCE = [[5, 9, 14, 7, 11, 3]]  # six positions, eos last
GREEDY = DecodeConfig(strategy="greedy", max_length=10, max_length_ratio=0)
BEAM = DecodeConfig(strategy="beam", beam_size=3, max_length=10, max_length_ratio=0)
SAMPLING = DecodeConfig(strategy="sampling", seed=3, max_length=10, max_length_ratio=0)


def tiny_model(kind: str = "additive") -> torch.nn.Module:
    torch.manual_seed(0)
    encoder = TextEncoderConfig(hidden=8, dropout=0.0)
    config = translation_config(
        text_encoder=encoder,
        attention=AttentionConfig(kind=kind, heads=2 if kind == "multihead" else 1),
        decoder=DecoderConfig(hidden=encoder.output_size, dropout=0.0),  # dot: same sizes
    )
    return build_model(config).eval()


def open_session(kind: str = "additive", config: DecodeConfig = GREEDY) -> OpenSession:
    model = tiny_model(kind)
    with torch.inference_mode():
        memory = model.encode(torch.tensor(SOURCE), torch.tensor([len(SOURCE[0])]))
    labels = TargetLabels(
        piece=lambda i: f"▁w{i}",
        text=lambda ids: " ".join(map(str, ids)),
        num_heads=model.num_heads,
    )
    pieces = tuple(f"▁s{i}" for i in SOURCE[0])
    return OpenSession(DecodeSession(model, memory, config), labels, "source", pieces)


def fingerprint(session: DecodeSession) -> tuple:
    """Everything a view shows of the decode, as bytes: tokens, log-probs, attention."""
    result = session.result()
    return tuple(
        (h.tokens, h.token_log_probs.tobytes(), h.attention.tobytes()) for h in result.hypotheses
    )


def predicted_token(model, memory, prev_token: int, state, position: int) -> int:
    """The token the decoder picks when its context is exactly the values of ``position``:
    the step's maths written out with the attention's weighted sum replaced by that one
    position (Bahdanau placement: context into the RNN input and into h̃)."""
    decoder = model.decoder
    attention = decoder.attention
    if attention.heads == 1:
        context = memory.values[:, position]  # (1, C)
    else:
        _, values = memory.keys  # (1, h, S, d)
        context = attention.out_proj(values[:, :, position].reshape(1, -1))
    embedded = decoder.embedding(torch.tensor([prev_token]))
    feed = [state.feed] if decoder.config.input_feed else []
    inputs = torch.cat([embedded, context, *feed], -1).unsqueeze(1)
    output, _ = decoder.rnn(inputs, state.hidden)
    attentional = torch.tanh(decoder.combine(torch.cat([output[:, 0], context], -1)))
    return int(decoder.output(attentional).argmax(-1))


def first_step_a_pin_changes(model, memory, tokens) -> tuple[int, list[int]]:
    """(step, the token each pinned position predicts there) at the first step of the
    greedy ``tokens`` where pinning some source position predicts another token."""
    with torch.inference_mode():  # each step's decoder state, stepped by hand
        state, prev = model.init_state(memory), 2
        for step, token in enumerate(tokens):
            width = memory.mask.size(1)
            predictions = [predicted_token(model, memory, prev, state, j) for j in range(width)]
            if any(p != token for p in predictions):
                return step, predictions
            _, state, _ = model.step(torch.tensor([prev]), state, memory)
            prev = token
    raise AssertionError("no pin at any step would change the token")


@pytest.mark.parametrize("kind", ["additive", "multihead"])
def test_pinning_a_source_word_changes_the_next_token_as_predicted(kind):
    opened = open_session(kind)
    session = opened.session
    model, memory = session.model, session.memory
    original = session.run()
    step, predictions = first_step_a_pin_changes(model, memory, [s.token for s in original])
    weights = original[step].best_attention
    for position, predicted in enumerate(predictions):
        taken = session.edit_attention(step, pin(weights, position))
        assert taken.token == predicted
        np.testing.assert_array_equal(taken.best_attention, pin(weights, position))
    assert session.step_index == step + 1


def test_the_decode_continues_with_the_models_own_attention_after_an_edit():
    session = open_session("location_sensitive").session
    original = session.run()
    edited_row = zero(original[2].best_attention, int(original[2].best_attention.argmax()))
    session.edit_attention(2, edited_row)
    rest = session.run()
    history = session.history
    np.testing.assert_array_equal(history[2].best_attention, edited_row)
    assert [s.step for s in history] == list(range(len(history)))
    assert not np.allclose(history[3].best_attention, original[3].best_attention)  # sees it
    assert rest and not any(isinstance(i, ForceToken) for i in session.interventions())
    assert session.interventions() == (AttentionEdit(2, edited_row),)


def test_back_and_a_retaken_step_undo_an_edit_exactly():
    session = open_session().session
    session.run()
    before = fingerprint(session)
    row = session.history[1].best_attention
    session.edit_attention(1, pin(row, 0))
    session.run()
    while session.step_index > 1:
        session.back()
    assert session.interventions() == ()
    session.run()
    assert fingerprint(session) == before


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.full((1, 5), 0.2), "1 head\\(s\\) over 5 source positions; this model has 1 over"),
        (np.full((2, 6), 1 / 6), "2 head\\(s\\)"),
        (np.array([[1.2, -0.2, 0, 0, 0, 0]]), "negative"),
        (np.array([[np.nan, 1, 0, 0, 0, 0]]), "NaN"),
        (np.full((1, 6), 0.5), "sums to 3"),
        (np.ones(6) / 6, "\\(heads, S\\)"),
    ],
)
def test_a_refused_edit_raises_and_changes_nothing(weights, message):
    session = open_session().session
    session.run(until=3)
    before = (fingerprint(session), session.step_index, session.interventions())
    with pytest.raises(ValueError, match=message):
        session.edit_attention(1, weights)
    assert (fingerprint(session), session.step_index, session.interventions()) == before


def test_edits_outside_the_decode_are_refused():
    session = open_session().session
    session.run()
    row = pin(session.history[0].best_attention, 0)
    with pytest.raises(ValueError, match="cannot edit the attention of step 40"):
        session.edit_attention(40, row)
    with pytest.raises(ValueError, match="the decode is finished"):
        session.edit_attention(session.step_index, row)
    with pytest.raises(ValueError, match="the edit is for step 0, not step 2"):
        session.edit_attention(2, AttentionEdit(0, row))


def test_a_model_without_attention_refuses_an_edit():
    torch.manual_seed(0)
    model = build_model(translation_config(attention=AttentionConfig(kind="none"))).eval()
    memory = model.encode(torch.tensor(SOURCE), torch.tensor([6]))
    session = DecodeSession(model, memory, GREEDY)
    session.run(until=2)
    with pytest.raises(ValueError, match="no attention"):
        session.edit_attention(1, np.full((1, 6), 1 / 6))
    assert session.step_index == 2 and session.interventions() == ()


def test_a_step_model_without_the_override_hook_refuses_an_edit():
    scripted = ScriptedModel(8, lambda _b, _prefix: eos_heavy(8))
    assert isinstance(scripted, StepModel)
    session = DecodeSession(scripted, scripted_memory([3]), GREEDY)
    with pytest.raises(ValueError, match="ScriptedModel does not take attention edits"):
        session.edit_attention(0, np.full((1, 3), 1 / 3))
    assert session.step_index == 0


@pytest.mark.parametrize("config", [GREEDY, BEAM, SAMPLING], ids=["greedy", "beam", "sampling"])
def test_replaying_the_interventions_reproduces_the_decode_bit_for_bit(config):
    session = open_session("location_sensitive", config).session
    session.run()
    session.force(7, at_step=1)
    session.edit_attention(3, pin(session.run()[1].best_attention, 2))
    session.run()
    made = session.interventions()
    assert [type(i).__name__ for i in made] == ["ForceToken", "AttentionEdit"]
    expected = fingerprint(session)

    # through JSON, as a session file keeps them, into a fresh session
    stored = [intervention_from_dict(json.loads(json.dumps(i.to_dict()))) for i in made]
    fresh = open_session("location_sensitive", config).session
    fresh.replay(stored)
    assert fingerprint(fresh) == expected
    assert fresh.interventions() == made


def test_the_step_loop_takes_an_attention_edit_from_its_plan():
    session = open_session().session
    first = session.run(until=1)[0]
    edit = AttentionEdit(1, pin(first.best_attention, 4))
    session.reset()
    taken = session.steps(until=3, plan=[None, edit]).run()
    np.testing.assert_array_equal(taken[1].best_attention, edit.weights)
    assert not taken[1].forced and session.interventions() == (edit,)


def test_what_if_compares_the_original_and_the_edited_decode_to_their_ends():
    opened = open_session()
    opened.run(until=2)
    original = open_session()
    original.run()
    row = opened.session.history[1].best_attention
    position = next(
        j for j in range(6) if open_session().what_if(1, pin(row, j)).diff.changed
    )  # a pin that changes the output
    result = opened.what_if(1, pin(row, position))
    assert result.before.target_pieces == original.snapshot().target_pieces
    assert result.before.done and result.after.done and opened.done
    assert result.diff.changed
    assert result.after.target_pieces == opened.snapshot().target_pieces
    assert result.edit == AttentionEdit(1, pin(row, position))
    assert result.first_token_ms > 0
    np.testing.assert_array_equal(result.after.attention[1], pin(row, position))


def test_a_refused_or_cancelled_what_if_leaves_the_session_as_it_was():
    opened = open_session()
    opened.run(until=2)
    before = (fingerprint(opened.session), opened.step_index)
    with pytest.raises(ValueError, match="negative"):
        opened.what_if(1, np.array([[1.5, -0.5, 0, 0, 0, 0]]))
    with pytest.raises(DecodeCancelled):
        opened.what_if(1, np.full((1, 6), 1 / 6), cancel=lambda: True)
    assert (fingerprint(opened.session), opened.step_index) == before


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_softmax_of_the_raw_scores_is_the_shown_attention(kind):
    opened = open_session(kind, BEAM)
    opened.run()
    scores = opened.attention_scores()
    shown = opened.snapshot().attention  # (T, heads, S)
    assert scores.shape == shown.shape and scores.dtype == np.float32
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(probs / probs.sum(-1, keepdims=True), shown, atol=1e-6)
    assert not np.allclose(scores, shown)


def test_raw_scores_replay_the_edits_of_the_shown_decode():
    opened = open_session("location_sensitive")
    steps = opened.run()
    edited = zero(steps[1].best_attention, int(steps[1].best_attention.argmax()))
    opened.edit_attention(1, edited)
    opened.run()
    scores, shown = opened.attention_scores(), opened.snapshot().attention
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs[:1], shown[:1], atol=1e-6)
    np.testing.assert_allclose(probs[2:], shown[2:], atol=1e-6)  # after the edit: followed
    assert not np.allclose(probs[1], shown[1])  # the edited step: the model's own scores


def test_raw_scores_of_a_model_without_attention_are_empty():
    torch.manual_seed(0)
    model = build_model(translation_config(attention=AttentionConfig(kind="none"))).eval()
    memory = model.encode(torch.tensor(SOURCE), torch.tensor([6]))
    labels = TargetLabels(str, str, 0)
    opened = OpenSession(DecodeSession(model, memory, GREEDY), labels, "source", ())
    opened.run(until=3)
    assert opened.attention_scores().shape == (3, 0, 6)


def test_a_captioning_decode_takes_an_edit_over_its_grid_cells():
    torch.manual_seed(0)
    encoder = ImageEncoderConfig(backbone="small_cnn", grid=(2, 2), projection=8, dropout=0.0)
    model = build_model(captioning_config(image_encoder=encoder)).eval()
    with torch.inference_mode():
        memory = model.encode(torch.randn(1, 3, 16, 16))  # 8 px per cell
    labels = TargetLabels(str, str, model.num_heads)
    opened = OpenSession(DecodeSession(model, memory, GREEDY), labels, "image", (), grid=(2, 2))
    opened.run()
    pinned = pin(opened.session.history[0].best_attention, 3)  # the bottom-right cell
    np.testing.assert_array_equal(opened.edit_attention(0, pinned).best_attention, pinned)
    opened.run()
    scores = opened.attention_scores()
    assert scores.shape == opened.snapshot().attention.shape == (len(opened.session.tokens), 1, 4)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["deen-bahdanau", "deen-multihead"])
def test_a_bundled_model_edited_replayed_and_scored_end_to_end(name):
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import checkpoints

    path = next(p for p in checkpoints() if p.stem == name)
    model = load_inference_model(path, device="cpu")
    opened = model.open_session("Ein Hund läuft über die Wiese.", GREEDY)
    step = len(opened.run()) // 2
    row = opened.session.history[step].best_attention
    for position in np.argsort(row.sum(axis=0)):  # least attended first
        result = opened.what_if(step, pin(row, int(position)))
        if result.diff.changed:
            break
    assert result.diff.changed, "no pinned position changed the translation"
    assert result.after.target_text != result.before.target_text
    expected = fingerprint(opened.session)
    fresh = model.open_session("Ein Hund läuft über die Wiese.", GREEDY)
    fresh.replay(opened.interventions())
    assert fingerprint(fresh.session) == expected
    scores = fresh.attention_scores()
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    shown = fresh.snapshot().attention
    edited = np.arange(len(probs)) != step  # the edited step shows the edit, not a softmax
    np.testing.assert_allclose(probs[edited], shown[edited], atol=1e-5)
