"""Checking a reference: the session takes exactly the reference, and the report says
where the model's own first choice differed, measured against the same session."""

from __future__ import annotations

import math
import threading

import pytest

from attnscope.engine.decoding import EOS_ID, UNK_ID, DecodeConfig
from attnscope.engine.errors import DecodeCancelled, InputTextError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.reference import (
    Disagreement,
    ReferenceReport,
    force_reference,
    forced_config,
)

SOURCE = "ein mann fährt fahrrad ."
REFERENCE = "two dogs play in the snow ."


@pytest.fixture(scope="module")
def model(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


def test_the_session_takes_the_reference_and_eos(model):
    opened, report = force_reference(model, SOURCE, DecodeConfig(), REFERENCE)
    snapshot = opened.snapshot()
    ids = model.tgt_tokenizer.encode(REFERENCE)
    assert [s.token_id for s in snapshot.steps] == [*ids, EOS_ID]
    assert all(s.forced for s in snapshot.steps) and opened.done
    assert snapshot.target_text == model.tgt_tokenizer.decode(ids)
    assert report.pieces == snapshot.target_pieces
    assert report.log_prob == pytest.approx(sum(s.log_prob for s in snapshot.steps))
    assert snapshot.attention.shape[0] == len(ids) + 1


def test_disagreements_are_the_steps_whose_best_candidate_is_not_the_reference(model):
    opened, report = force_reference(model, SOURCE, DecodeConfig(), REFERENCE)
    steps = opened.snapshot().steps
    expected = [i for i, s in enumerate(steps) if int(s.topk_ids[0]) != s.token_id]
    assert [d.step for d in report.disagreements] == expected
    for d in report.disagreements:
        step = steps[d.step]
        assert d.model == step.topk_pieces[0] and d.model_prob == pytest.approx(step.topk_probs[0])
        assert d.reference_prob == pytest.approx(math.exp(step.log_prob))
        assert d.model_prob >= d.reference_prob


def test_the_models_own_greedy_output_as_reference_agrees_at_every_step(model, monkeypatch):
    config = DecodeConfig(max_length=8)
    own = model.open_session(SOURCE, config)
    own.run()
    own_steps = own.snapshot().steps
    ids = [s.token_id for s in own_steps if s.token_id != EOS_ID]
    # the reference is given as those ids (no detokenize/tokenize round trip in between)
    monkeypatch.setattr(model.tgt_tokenizer, "encode", lambda text: list(ids))
    opened, report = force_reference(model, SOURCE, config, "the model's own words")
    forced_steps = opened.snapshot().steps
    assert [d.step for d in report.disagreements if d.step < len(ids)] == []
    for forced, free in zip(forced_steps, own_steps[: len(ids)], strict=False):
        assert forced.log_prob == pytest.approx(free.log_prob, abs=1e-6)
    if len(ids) < len(own_steps):  # the model stopped by itself: eos agrees too
        assert report.disagreements == ()
        assert report.log_prob == pytest.approx(report.own_log_prob, abs=1e-5)
        assert "matched the reference at every step" in report.describe()


def test_the_comparison_uses_the_users_settings(model):
    beam = DecodeConfig(strategy="beam", beam_size=3, max_length=10)
    _, report = force_reference(model, SOURCE, beam, REFERENCE)
    expected = model.translate([SOURCE], beam)[0]
    assert report.own_text == expected.text


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_reference_is_refused(model, text):
    with pytest.raises(InputTextError, match="reference is empty"):
        force_reference(model, SOURCE, DecodeConfig(), text)


def test_an_overlong_reference_is_refused(model):
    with pytest.raises(InputTextError, match="tokens long"):
        model.target_ids("the dog runs . " * 400)


def test_pieces_outside_the_vocabulary_are_counted(model):
    ids = model.target_ids("a ☃ dog")
    assert UNK_ID in ids
    _, report = force_reference(model, SOURCE, DecodeConfig(), "a ☃ dog")
    assert report.unknown == ("☃",) and "Not in the target vocabulary" in report.describe()
    assert "“☃”" in report.describe()


def test_cancelling_stops_between_steps(model):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(DecodeCancelled):
        force_reference(model, SOURCE, DecodeConfig(), REFERENCE, cancel=cancel)


def test_the_forced_session_has_room_for_the_reference_and_the_users_maximum():
    assert forced_config(DecodeConfig(max_length=5), 20).max_length == 21
    forced = forced_config(DecodeConfig(max_length=50, strategy="beam", min_length=9), 20)
    assert (forced.max_length, forced.strategy, forced.min_length) == (50, "greedy", 0)
    assert forced.max_length_ratio == 0


def test_the_description_names_the_first_disagreements_and_counts_the_rest():
    disagreements = tuple(
        Disagreement(
            step=i, reference="▁bike", reference_prob=0.004, model="▁bicycle", model_prob=0.61
        )
        for i in range(5)
    )
    report = ReferenceReport(
        pieces=("▁a",) * 10,
        token_log_probs=(-1.0,) * 10,
        unknown=(),
        disagreements=disagreements,
        own_text="a bicycle",
        own_log_prob=-3.0,
        own_length=4,
    )
    text = report.describe()
    assert "at 5 of 10 steps" in text and "and 2 more" in text
    assert "step 1: “bicycle” 61% over “bike” <1%" in text
    assert report.perplexity == pytest.approx(math.e)
    assert report.log_prob == pytest.approx(-10.0)
    assert "the model's own output: -3.00 over 4 tokens" in text


def test_without_the_comparison_the_models_own_output_is_not_decoded(model, monkeypatch):
    opened_sources = []
    original = model.open_session
    monkeypatch.setattr(
        model, "open_session", lambda *args: opened_sources.append(args) or original(*args)
    )
    _, report = force_reference(model, SOURCE, DecodeConfig(), REFERENCE, compare=False)
    assert len(opened_sources) == 1 and report.own_text is None
    assert "own output" not in report.describe() and report.describe().startswith("Reference:")
