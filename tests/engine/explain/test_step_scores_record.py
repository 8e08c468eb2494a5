"""Step scores in the view record (TokenStep), the app's export and `translate --json`."""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
from conftest import SOURCE

from attnscope.engine.cli import main
from attnscope.engine.decode_record import load_schema, snapshot_record
from attnscope.engine.decoding import DecodeConfig


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_each_step_of_the_view_record_has_its_scores(tiny_text, strategy):
    opened = tiny_text.open_session(SOURCE, DecodeConfig(strategy=strategy, max_length=6))
    opened.run()
    snapshot = opened.snapshot()
    record = snapshot_record(snapshot, settings=DecodeConfig(strategy=strategy))
    jsonschema.Draft202012Validator(load_schema()).validate(record)
    for step, written in zip(snapshot.steps, record["steps"], strict=True):
        assert step.probability == pytest.approx(math.exp(step.log_prob))
        assert step.surprisal == -step.log_prob
        first, second = step.topk_probs[:2]
        assert step.margin == pytest.approx(math.log(first) - math.log(second), rel=1e-6)
        assert written["probability"] == pytest.approx(step.probability, rel=1e-6)
        assert written["margin"] == pytest.approx(step.margin, rel=1e-6)
        assert written["entropy"] == pytest.approx(step.entropy, rel=1e-6)


def test_a_step_listing_one_candidate_has_no_margin(tiny_text):
    opened = tiny_text.open_session(SOURCE, DecodeConfig(max_length=3, topk_alternatives=1))
    opened.run()
    record = snapshot_record(opened.snapshot())
    assert all("margin" not in step and "probability" in step for step in record["steps"])


def translate_json(checkpoint, tmp_path, capsys, *options) -> dict:
    source = tmp_path / "in.txt"
    source.write_text(SOURCE + "\n", encoding="utf-8")
    args = ["translate", "-c", str(checkpoint), "-i", str(source), "--json", "--max-length", "6"]
    assert main([*args, *options]) == 0
    record = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator(load_schema()).validate(record)
    return record


@pytest.mark.parametrize("beam", ["1", "3"])
def test_translate_json_carries_the_step_scores_of_the_session(
    tiny_translation_checkpoint, tiny_text, tmp_path, capsys, beam
):
    record = translate_json(tiny_translation_checkpoint, tmp_path, capsys, "--beam", beam)
    scores = record["step_scores"]
    assert scores["entropy"] is None  # not recorded unless asked
    strategy = "beam" if beam == "3" else "greedy"
    config = DecodeConfig(strategy=strategy, beam_size=int(beam), max_length=6)
    opened = tiny_text.open_session(SOURCE, config)
    opened.run()
    steps = opened.snapshot().steps
    assert [s.piece for s in steps] == record["pieces"]
    np.testing.assert_allclose(scores["probability"], [s.probability for s in steps], rtol=1e-5)
    np.testing.assert_allclose(scores["surprisal"], [s.surprisal for s in steps], rtol=1e-5)
    np.testing.assert_allclose(scores["margin"], [s.margin for s in steps], rtol=1e-4)
    with_entropy = translate_json(
        tiny_translation_checkpoint, tmp_path, capsys, "--beam", beam, "--step-entropy"
    )
    entropy = with_entropy["step_scores"]["entropy"]
    np.testing.assert_allclose(entropy, [s.entropy for s in steps], rtol=1e-5)
