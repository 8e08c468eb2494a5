"""`attnscope explain`: per-step attribution and agreement with attention for a whole file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from attnscope.engine.cli import main
from attnscope.engine.explain import explain, mean_agreement
from attnscope.engine.inference import load_inference_model

LINES = ["ein mann fährt fahrrad .", "", "zwei hunde spielen im schnee ."]


@pytest.fixture
def source_file(tmp_path):
    path = tmp_path / "src.txt"
    path.write_text("".join(f"{line}\n" for line in LINES), encoding="utf-8")
    return str(path)


def run_json(checkpoint, source, capsys, *extra):
    argv = ["explain", "-c", str(checkpoint), "--src", source, "--json", *extra]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    return [json.loads(line) for line in out.splitlines()], err


def test_one_record_per_line_with_per_step_scores_and_agreement(
    tiny_translation_checkpoint, source_file, capsys
):
    records, err = run_json(
        tiny_translation_checkpoint, source_file, capsys, "--method", "saliency", "occlusion"
    )
    assert [r["source"] for r in records] == LINES
    assert records[1] == {"source": "", "translation": None}
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    for record in (records[0], records[2]):
        steps, positions = len(record["tokens"]), len(record["source_tokens"])
        assert np.shape(record["attention"]) == (steps, positions)
        assert set(record["methods"]) == {"saliency", "occlusion"}
        for method, entry in record["methods"].items():
            assert np.shape(entry["scores"]) == (steps, positions)
            assert len(entry["agreement"]) == steps
            ids = model.translate([record["source"]], _greedy())[0].token_ids
            expected = explain(model, record["source"], ids, method=method)
            np.testing.assert_allclose(entry["scores"], expected.scores, rtol=1e-4, atol=1e-6)
            mean = mean_agreement(np.asarray(record["attention"]), expected.scores)
            assert entry["mean_agreement"]["top1"] == pytest.approx(mean.top1)
            assert entry["mean_agreement"]["jsd"] == pytest.approx(mean.jsd, abs=1e-4)
    assert "explained 2 of 3 lines" in err
    assert "saliency: mean over" in err and "occlusion: mean over" in err


def _greedy():
    from attnscope.engine.decoding import DecodeConfig

    return DecodeConfig(max_length=100, max_length_ratio=2.0)


def test_text_output_gives_the_means_per_method(tiny_translation_checkpoint, source_file, capsys):
    assert main(["explain", "-c", str(tiny_translation_checkpoint), "--src", source_file]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[1] == ""
    translation, means = out[0].split(" ||| ")
    assert translation and means.startswith("saliency ρ ") and " top-1 " in means


def test_a_refused_line_is_reported_and_the_rest_goes_on(
    tiny_translation_checkpoint, tmp_path, capsys
):
    path = tmp_path / "src.txt"
    path.write_text(" ".join(["mann"] * 600) + "\nein mann .\n", encoding="utf-8")
    records, err = run_json(tiny_translation_checkpoint, str(path), capsys)
    assert "src.txt line 1 skipped: the source text is" in err
    assert "error" in records[0] and records[1]["methods"]["saliency"]["scores"]
    assert "explained 1 of 2 lines (1 refused)" in err


def test_a_model_without_attention_gets_attributions_and_no_agreement(
    tiny_plain_checkpoint, source_file, capsys
):
    records, err = run_json(tiny_plain_checkpoint, source_file, capsys)
    entry = records[0]["methods"]["saliency"]
    assert records[0]["attention"] is None and "agreement" not in entry
    assert np.shape(entry["scores"]) == (
        len(records[0]["tokens"]),
        len(records[0]["source_tokens"]),
    )
    assert "saliency: no attention to compare with" in err


def test_bad_options_and_files_exit_2(tiny_translation_checkpoint, source_file, tmp_path, capsys):
    argv = ["explain", "-c", str(tiny_translation_checkpoint)]
    assert main([*argv, "--src", source_file, "--ig-steps", "0"]) == 2
    assert "--ig-steps must be between 1 and 512, got 0" in capsys.readouterr().err
    assert main([*argv, "--src", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err
