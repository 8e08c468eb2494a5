"""`attnscope bench` on toy sizes: the JSON has every key, and the baselines do the same work.

Nothing here looks at how fast anything ran.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch

from attnscope.engine.cli import main
from attnscope.engine.decoding import decode
from benchmarks import gemv_interference, naive_beam, readme_table, step_floor, workloads
from benchmarks.command import TOP_LEVEL_KEYS, format_table


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    skips = ["--skip", "peer", "--skip", "memory", "--skip", "startup", "--skip", "gui"]
    assert main(["bench", "--tiny", "--json", str(out), *skips]) == 0
    return json.loads(out.read_text())


def test_json_has_every_key_and_a_reason_for_each_null(tiny_report):
    for key in (*TOP_LEVEL_KEYS, "machine", "notes", "figures"):
        assert key in tiny_report
    for key in TOP_LEVEL_KEYS:
        if tiny_report[key] is None:
            assert tiny_report["notes"][key]
    assert "skipped" in tiny_report["notes"]["beam_vs_opennmt_ratio"]
    assert {"cpu", "usable_cores", "torch", "threads"} <= set(tiny_report["machine"])
    # the vector width behind the int8 figures, as torch reports it
    capability = torch.backends.cpu.get_cpu_capability()
    assert tiny_report["machine"]["cpu_capability"] == capability


def test_measured_figures_carry_median_and_spread(tiny_report):
    figures = tiny_report["figures"]
    names = ("beam_tokens_per_s", "naive_tokens_per_s", "greedy_step_ms", "weight_bytes_limit_ms")
    for name in names:
        figure = figures[name]
        assert figure["min"] <= figure["q1"] <= figure["median"] <= figure["q3"] <= figure["max"]
        assert figure["n"] >= 2
    ratios = (
        "beam_vs_naive_ratio",
        "step_vs_weight_bytes_ratio",
        "int8_step_vs_weight_bytes_ratio",
    )
    for key in ratios:
        assert tiny_report[key] > 0
    for key in ratios:  # per-repetition ratios
        spread = figures[key]
        assert spread["min"] <= spread["median"] == tiny_report[key] <= spread["max"]
    beam, naive = figures["beam_tokens_per_s"], figures["naive_tokens_per_s"]
    ratio = figures["beam_vs_naive_ratio"]
    assert beam["min"] / naive["max"] <= ratio["median"] <= beam["max"] / naive["min"]


def test_spread_quartiles():
    result = workloads.spread([5.0, 1.0, 3.0, 2.0, 4.0])
    assert result == {"median": 3.0, "min": 1.0, "max": 5.0, "q1": 2.0, "q3": 4.0, "n": 5}
    assert workloads.spread([7.0])["q1"] == 7.0
    with pytest.raises(ValueError):
        workloads.spread([])


def test_naive_reference_finds_the_engines_best_hypothesis():
    """Same model, same forced length: the two searches must agree (a fair baseline)."""
    sizes = workloads.TINY
    model = workloads.random_model(workloads.beam_model_config(sizes.vocab, sizes.width_divisor))
    sources = workloads.random_sources(3, sizes.vocab, seed=1)
    expected = naive_beam.naive_translate(model, sources, beam_size=3, max_length=6, min_length=6)
    config = workloads.forced_length_config(workloads.BenchSizes(beam_size=3, length=6))
    with torch.inference_mode():
        results = decode(model, model.encode(*workloads.pad_batch(sources)), config)
    assert [list(r.tokens) for r in results] == expected
    assert all(len(tokens) == 6 for tokens in expected)


def test_gemm_capture_and_replay_match_a_linear_layer():
    layer = torch.nn.Linear(6, 4)
    inputs = torch.randn(3, 6)
    with torch.inference_mode():
        calls = step_floor.capture_matmuls(lambda: layer(inputs))
    assert calls == [("aten::addmm", ((4,), (3, 6), (6, 4)))]
    step_floor.gemm_replay(calls)()  # the replay accepts the captured shapes


def test_readme_table_renders_values_and_reasons(tiny_report):
    table = readme_table.render(tiny_report)
    assert table.count("\n| ") == 1 + len(TOP_LEVEL_KEYS)  # separator + one row per key
    assert f"| {tiny_report['beam_vs_naive_ratio']:.2f}× (" in table
    assert "not measured: skipped" in table


def test_a_peer_that_cannot_run_leaves_its_ratio_null_with_the_reason(tmp_path):
    """The project's own python has no OpenNMT-py: the bench must say so, not crash."""
    out = tmp_path / "bench.json"
    skips = [
        "--skip",
        "latency",
        "--skip",
        "naive",
        "--skip",
        "memory",
        "--skip",
        "gui",
        "--skip",
        "hf",
    ]
    argv = ["bench", "--tiny", "--peer-python", sys.executable, "--json", str(out), *skips]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["beam_vs_opennmt_ratio"] is None
    assert "onmt" in report["notes"]["beam_vs_opennmt_ratio"]
    assert report["figures"]["beam_tokens_per_s"]["n"] == workloads.TINY.repeats


def test_table_skips_nested_figures_without_a_spread():
    data = {key: None for key in TOP_LEVEL_KEYS}
    data["notes"] = {}
    data["figures"] = {
        "gui": {"gui_step_ms": {"p50": 1.0, "p95": 2.0}},
        "step_ms": {"median": 2.0, "min": 1.0, "max": 3.0},
    }
    table = format_table(data)
    assert "step_ms" in table and "gui " not in table


def test_interference_script_times_only_the_products_and_reports_every_setting(capsys):
    calls = []
    replays = [lambda: calls.append("product"), lambda: calls.append("product")]
    seconds = gemv_interference.products_time(replays, lambda: calls.append("between"))
    assert calls == ["between", "product", "between", "product"] and seconds >= 0
    gemv_interference.main(["--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(gemv_interference.SETTINGS)
    assert lines[1].startswith("back to back (the floor)") and lines[1].split()[-1] == "1.00"
