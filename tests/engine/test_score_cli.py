"""`attnscope score`: one row per (source, reference) pair, the same figures as the app's check."""

from __future__ import annotations

import json

import pytest

from attnscope.engine.cli import main
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.reference import force_reference
from attnscope.engine.resources import DEFAULT_CHECKPOINT, example_images, resource_dir

SOURCES = ["ein mann fährt fahrrad .", "zwei hunde spielen im schnee ."]
REFERENCES = ["a man rides a bike .", "two dogs play in the snow ."]


@pytest.fixture
def pair_files(tmp_path):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    ref.write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    return str(src), str(ref)


def test_rows_hold_the_references_figures(tiny_translation_checkpoint, pair_files, capsys):
    src, ref = pair_files
    assert main(["score", "-c", str(tiny_translation_checkpoint), "--src", src, "--ref", ref]) == 0
    out, err = capsys.readouterr()
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 2 and all(len(row) == 6 for row in rows)
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    for row, source, reference in zip(rows, SOURCES, REFERENCES, strict=True):
        _, report = force_reference(model, source, DecodeConfig(), reference)
        assert float(row[0]) == pytest.approx(report.log_prob, abs=1e-3)
        assert int(row[1]) == len(report.pieces) and int(row[3]) == len(report.disagreements)
        assert float(row[4]) == pytest.approx(report.own_log_prob, abs=1e-3)
    assert "scored 2 of 2 references" in err and "its own outputs" in err


def test_json_without_the_comparison(tiny_translation_checkpoint, pair_files, capsys):
    src, ref = pair_files
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", src, "--ref", ref]
    assert main([*argv, "--json", "--no-compare"]) == 0
    out, err = capsys.readouterr()
    first = json.loads(out.splitlines()[0])
    assert first["reference"] == REFERENCES[0] and first["tokens"][-1] == "</s>"
    assert len(first["token_log_probs"]) == len(first["tokens"])
    assert first["log_prob"] == pytest.approx(sum(first["token_log_probs"]), abs=1e-3)
    assert first["model_output"] is None and "its own outputs" not in err


def test_a_pair_the_model_cannot_take_is_left_empty(tiny_translation_checkpoint, tmp_path, capsys):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("ein hund .\nein mann .\n", encoding="utf-8")
    ref.write_text("a dog .\n\n", encoding="utf-8")
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", str(src), "--ref", str(ref)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1] == "\t" * 5
    assert "line 2 skipped: the reference is empty" in err and "scored 1 of 2" in err


def test_files_of_different_lengths_are_refused(tiny_translation_checkpoint, tmp_path, capsys):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text("a\nb\n", encoding="utf-8")
    ref.write_text("a\n", encoding="utf-8")
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", str(src), "--ref", str(ref)]
    assert main(argv) == 2
    assert "has 2 lines but" in capsys.readouterr().err


def test_a_captioner_scores_a_caption_of_an_image_path(tmp_path, capsys):
    checkpoint = resource_dir() / "checkpoints" / "flickr8k-mobilenet.safetensors"
    src, ref = tmp_path / "images.txt", tmp_path / "captions.txt"
    src.write_text(f"{example_images()[0]}\n", encoding="utf-8")
    ref.write_text("a woman in a white suit\n", encoding="utf-8")
    argv = ["score", "-c", str(checkpoint), "--src", str(src), "--ref", str(ref), "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["tokens"][-1] == "</s>" and row["model_output"]


def test_the_default_model_agrees_with_its_own_greedy_output(tmp_path, capsys):
    checkpoint = resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT
    model = load_inference_model(checkpoint, device="cpu")
    source = "Ein Hund rennt über eine Wiese."
    own = model.translate([source], DecodeConfig())[0].text
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text(source + "\n", encoding="utf-8")
    ref.write_text(own + "\n", encoding="utf-8")
    assert main(["score", "-c", str(checkpoint), "--src", str(src), "--ref", str(ref)]) == 0
    row = capsys.readouterr().out.split("\t")
    assert row[3] == "0"  # its greedy output is its first choice at every step
    assert float(row[0]) == pytest.approx(float(row[4]), abs=1e-3)


def test_a_source_the_model_refuses_leaves_only_its_own_row_empty(
    tiny_translation_checkpoint, tmp_path, capsys
):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text(f"{SOURCES[0]}\n{'hund ' * 500}\n", encoding="utf-8")
    ref.write_text(f"{REFERENCES[0]}\na dog .\n", encoding="utf-8")
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", str(src), "--ref", str(ref)]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    first, second = out.splitlines()
    assert first.split("\t")[4] not in ("", "-")  # compared although its batch failed
    assert second == "\t" * 5 and "line 2 skipped" in err


def test_a_missing_file_or_a_bad_checkpoint_gets_one_line_and_exit_2(
    tiny_translation_checkpoint, pair_files, tmp_path, capsys
):
    src, ref = pair_files
    missing = str(tmp_path / "nope.txt")
    assert (
        main(["score", "-c", str(tiny_translation_checkpoint), "--src", missing, "--ref", ref]) == 2
    )
    assert "nope.txt" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint")
    assert main(["score", "-c", str(bad), "--src", src, "--ref", ref]) == 2
    err = capsys.readouterr().err
    assert err.startswith("attnscope: error:") and len(err.strip().splitlines()) == 1
