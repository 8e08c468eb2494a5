"""Two models on one input: which pairs compare, lockstep stepping, cross-scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from compare_support import SOURCES

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.cli import main
from attnscope.engine.compare import (
    IncompatibleModelsError,
    LockstepPair,
    compatible,
    cross_score,
    cross_scores,
    load_partner,
)
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.engine.inference import InferenceModel, load_inference_model

SOURCE = SOURCES[0]
SHORT = DecodeConfig(max_length=3, min_length=3, topk_alternatives=3)
LONGER = DecodeConfig(max_length=6, min_length=6, topk_alternatives=3)
BEAM = DecodeConfig(strategy="beam", beam_size=3, max_length=5, min_length=2)


@pytest.fixture(scope="module")
def models(translators):
    return {name: load_inference_model(path, device="cpu") for name, path in translators.items()}


def separate(model, config, steps=None):
    """A session of ``model`` alone, run ``steps`` steps (None: to the end)."""
    opened = model.open_session(SOURCE, config)
    opened.run(until=steps)
    return opened.snapshot()


def same_decode(left, right) -> None:
    assert left.target_pieces == right.target_pieces
    assert [s.log_prob for s in left.steps] == [s.log_prob for s in right.steps]
    assert left.done == right.done
    if left.attention is None:
        assert right.attention is None
    else:
        np.testing.assert_array_equal(left.attention, right.attention)


# -- which pairs compare ------------------------------------------------------------------------
def test_two_translators_of_one_pair_compare(models):
    assert compatible(models["additive"], models["other_tokens"]) is None


def test_a_captioner_is_refused_beside_a_translator(models, captioner):
    with pytest.raises(IncompatibleModelsError, match=r"captioning model.*translation model"):
        load_partner(captioner, models["additive"])


def test_other_languages_are_refused_naming_both(tmp_path, models):
    from compare_support import make_translator

    french = make_translator(
        tmp_path / "defr.safetensors", info={"source_language": "de", "target_language": "fr"}
    )
    with pytest.raises(IncompatibleModelsError, match=r"English.*French"):
        load_partner(french, models["additive"])


def test_models_on_two_devices_are_refused_and_load_partner_avoids_it(translators, models):
    elsewhere = InferenceModel(load_checkpoint(translators["multihead"]), torch.device("meta"))
    with pytest.raises(IncompatibleModelsError, match=r"runs on cpu.*on meta.*one device"):
        compatible(models["additive"], elsewhere)
    with pytest.raises(IncompatibleModelsError):
        LockstepPair(models["additive"], elsewhere, SOURCE, SHORT, SHORT)
    partner = load_partner(translators["multihead"], models["additive"])
    assert partner.device == models["additive"].device
    assert issubclass(IncompatibleModelsError, AttnScopeError)  # one message in the app
    assert issubclass(IncompatibleModelsError, ValueError)


# -- lockstep -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("config_a", "config_b"), [(SHORT, LONGER), (BEAM, SHORT)])
def test_lockstep_equals_two_separate_sessions(models, config_a, config_b):
    a, b = models["additive"], models["other_tokens"]
    pair = LockstepPair(a, b, SOURCE, config_a, config_b)
    for steps in range(1, 4):
        pair.step()
        first, second = pair.snapshots()
        same_decode(first, separate(a, config_a, steps))
        same_decode(second, separate(b, config_b, steps))
    pair.run()
    assert pair.done
    first, second = pair.snapshots()
    same_decode(first, separate(a, config_a))
    same_decode(second, separate(b, config_b))


def test_back_undoes_only_the_sides_that_moved(models):
    a, b = models["additive"], models["multihead"]
    pair = LockstepPair(a, b, SOURCE, SHORT, LONGER)
    pair.run()
    assert pair.step_index == 6  # the longer side's steps; the shorter stopped at 3
    moved_a, moved_b = pair.back()
    assert moved_a is None and moved_b is not None
    for _ in range(2):
        pair.back()
    first, second = pair.snapshots()
    same_decode(first, separate(a, SHORT))
    same_decode(second, separate(b, LONGER, 3))
    pair.back()
    first, second = pair.snapshots()
    same_decode(first, separate(a, SHORT, 2))
    same_decode(second, separate(b, LONGER, 2))
    pair.reset()
    assert pair.step_index == 0 and pair.back() is None
    assert pair.snapshots()[0].steps == ()


def test_lockstep_run_is_cancellable_and_a_finished_pair_refuses_a_step(models):
    pair = LockstepPair(models["additive"], models["multihead"], SOURCE, SHORT, SHORT)
    with pytest.raises(DecodeCancelled):
        pair.run(cancel=lambda: pair.step_index >= 2)
    assert pair.step_index == 2
    pair.run()
    with pytest.raises(ValueError, match=r"both decodes are finished"):
        pair.step()


# -- cross-scores -------------------------------------------------------------------------------
def test_cross_scores_equal_attnscope_score(tmp_path, capsys, translators, models):
    a, b = models["additive"], models["other_tokens"]
    text_a = separate(a, LONGER).target_text
    text_b = separate(b, LONGER).target_text
    scores = cross_scores(a, b, SOURCE, text_a, text_b, config_a=LONGER, config_b=LONGER)
    for scorer, text, mine in (
        ("other_tokens", text_a, scores.b_scores_a.report),
        ("additive", text_b, scores.a_scores_b.report),
    ):
        (tmp_path / "src").write_text(SOURCE + "\n", encoding="utf-8")
        (tmp_path / "ref").write_text(text + "\n", encoding="utf-8")
        argv = ["score", "-c", str(translators[scorer]), "--src", str(tmp_path / "src")]
        argv += ["--ref", str(tmp_path / "ref"), "--json", "--no-compare", "--device", "cpu"]
        assert main(argv) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed["tokens"] == list(mine.pieces)
        assert printed["token_log_probs"] == [round(v, 5) for v in mine.token_log_probs]
        assert cross_score(models[scorer], SOURCE, text) == mine  # the config: top-k only
    forced = scores.b_scores_a.snapshot  # B's attention over A's output, on B's pieces
    assert forced.attention.shape[0] == len(scores.b_scores_a.report.pieces)


def test_a_token_forced_on_one_side_leaves_the_other_and_back_stays_exact(models):
    a, b = models["additive"], models["multihead"]
    pair = LockstepPair(a, b, SOURCE, LONGER, LONGER)
    pair.run(until=3)
    alternative = int(pair.snapshots()[0].steps[1].topk_ids[1])
    pair.force(0, alternative, at_step=1)  # A rewinds to its step 1 and takes another token
    first, second = pair.snapshots()
    assert len(first.steps) == 2 and first.steps[1].token_id == alternative
    same_decode(second, separate(b, LONGER, 3))
    pair.back()  # the pair's last step moved only B (A is behind it)
    assert [len(s.steps) for s in pair.snapshots()] == [2, 2]
