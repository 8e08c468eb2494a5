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


def write_pairs(folder, sources, references):
    """Source and reference files, one line per item; returns their paths as strings."""
    src, ref = folder / "src.txt", folder / "ref.txt"
    src.write_text("".join(f"{line}\n" for line in sources), encoding="utf-8")
    ref.write_text("".join(f"{line}\n" for line in references), encoding="utf-8")
    return str(src), str(ref)


@pytest.fixture
def pair_files(tmp_path):
    return write_pairs(tmp_path, SOURCES, REFERENCES)


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
    src, ref = write_pairs(tmp_path, ["ein hund .", "ein mann ."], ["a dog .", ""])
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", src, "--ref", ref]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[1] == "\t" * 5
    assert "line 2 skipped: the reference is empty" in err and "scored 1 of 2" in err


def test_files_of_different_lengths_are_refused(tiny_translation_checkpoint, tmp_path, capsys):
    src, ref = write_pairs(tmp_path, ["a", "b"], ["a"])
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", src, "--ref", ref]
    assert main(argv) == 2
    assert "has 2 lines but" in capsys.readouterr().err


def test_a_captioner_scores_a_caption_of_an_image_path(tmp_path, capsys):
    checkpoint = resource_dir() / "checkpoints" / "flickr8k-mobilenet.safetensors"
    src, ref = write_pairs(tmp_path, [example_images()[0]], ["a woman in a white suit"])
    argv = ["score", "-c", str(checkpoint), "--src", src, "--ref", ref, "--json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["tokens"][-1] == "</s>" and row["model_output"]


def test_the_default_model_agrees_with_its_own_greedy_output(tmp_path, capsys):
    checkpoint = resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT
    model = load_inference_model(checkpoint, device="cpu")
    source = "Ein Hund rennt über eine Wiese."
    own = model.translate([source], DecodeConfig())[0].text
    src, ref = write_pairs(tmp_path, [source], [own])
    assert main(["score", "-c", str(checkpoint), "--src", src, "--ref", ref]) == 0
    row = capsys.readouterr().out.split("\t")
    assert row[3] == "0"  # its greedy output is its first choice at every step
    assert float(row[0]) == pytest.approx(float(row[4]), abs=1e-3)


def test_a_source_the_model_refuses_leaves_only_its_own_row_empty(
    tiny_translation_checkpoint, tmp_path, capsys
):
    src, ref = write_pairs(tmp_path, [SOURCES[0], "hund " * 500], [REFERENCES[0], "a dog ."])
    argv = ["score", "-c", str(tiny_translation_checkpoint), "--src", src, "--ref", ref]
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
