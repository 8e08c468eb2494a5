"""benchmarks/explain.py: batched attribution against the naive loop, as the `attribution`
figure group of `attnscope bench` reports it."""

import json

from attnscope.engine.inference import load_inference_model
from benchmarks import explain as bench
from benchmarks.command import FIGURE_GROUPS, GROUP_KEYS, SKIPPABLE
from benchmarks.report import TOP_LEVEL_KEYS, BenchContext, Report


def test_measure_times_both_sides_on_the_asked_workload(tiny_translation_checkpoint):
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    result = bench.measure(model, source_tokens=5, output_tokens=3, points=4, repeats=2)
    assert result["output_tokens"] == 3 and result["source_pieces"] <= 5
    for name in bench.FIGURES:
        assert len(result["seconds"][f"{name}_s"]) == 2
        assert len(result["cpu_seconds"][f"naive_{name}_s"]) == 2
        assert all(r > 0 for r in result["ratios"][f"{name}_vs_naive_ratio"])
    json.dumps(result)  # plain JSON


def test_the_attribution_group_fills_its_keys(tiny_translation_checkpoint):
    assert "attribution" in SKIPPABLE and set(GROUP_KEYS["attribution"]) <= set(TOP_LEVEL_KEYS)
    ctx = BenchContext(
        sizes=None,
        threads=1,
        checkpoint=str(tiny_translation_checkpoint),
        peer_python=None,
        size="tiny",
    )
    report = Report(size="tiny")
    FIGURE_GROUPS["attribution"](ctx, report)
    for key in GROUP_KEYS["attribution"]:
        assert report.values[key] > 0
    assert report.figures["attribution"]["ig_points"] == 4
