"""benchmarks/breakpoints.py: it times every session step and the check after it, with every
kind of condition on, and its JSON holds the figures the README quotes."""

import json

from attnscope.engine.debugger.breakpoints import CONDITIONS
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from benchmarks import breakpoints as bench


def test_every_kind_of_condition_is_timed_on_every_step(tiny_translation_checkpoint):
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    sentences = ["ein mann fährt fahrrad .", "der hund läuft ."]
    config = DecodeConfig(max_length=8)
    figures = bench.breakpoint_cost(model, sentences, config=config, repeats=2)
    lengths = [len(model.open_session(s, config).run()) for s in sentences]
    assert figures["steps"] == 2 * sum(lengths)
    assert {c["kind"] for c in figures["conditions"]} == set(CONDITIONS)
    assert figures["check_vs_step_ratio"] > 0 and figures["median_ratio"] > 0
    assert figures["step_ms"]["median"] <= figures["step_ms"]["max"]
    json.dumps(figures)  # plain JSON


def test_main_prints_one_json_object(tiny_translation_checkpoint, capsys):
    assert bench.main(["--checkpoint", str(tiny_translation_checkpoint), "--repeats", "1"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["strategy"] == "greedy" and figures["steps"] > 0
