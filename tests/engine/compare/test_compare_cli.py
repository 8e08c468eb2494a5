"""`attnscope compare` end to end: two bundled de->en models, bad lines, --json, refusals."""

from __future__ import annotations

import json

import jsonschema
import pytest

from attnscope.engine.cli import main
from attnscope.engine.decode_record import load_schema
from attnscope.engine.resources import checkpoints

BUNDLED = {path.stem: path for path in checkpoints()}


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


@pytest.fixture
def lines(tmp_path):
    src = write_lines(tmp_path / "src", ["Ein Hund läuft.", "", "Zwei Kinder spielen."])
    ref = write_lines(tmp_path / "ref", ["A dog runs.", "-", "Two children play."])
    return src, ref


def compare(capsys, *argv):
    code = main(["compare", "--device", "cpu", "--max-length", "20", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_additive_against_no_attention_line_by_line(capsys, lines):
    src, ref = lines
    a, b = BUNDLED["deen-bahdanau"], BUNDLED["deen-noattn"]
    code, out, err = compare(capsys, "-c", a, "-c", b, "--src", src, "--ref", ref)
    assert code == 0
    assert out.startswith("[1] Ein Hund läuft.\n  A  ") and "\n[3] Zwei Kinder" in out
    assert out.count("  cross  B scores A ") == 2 and out.count("  reference  A ") == 2
    assert "attention not compared: model B has no attention" in out
    assert "line 2 skipped: the source text is empty" in err
    assert "compared 2 of 3 lines" in err and "attention not compared" in err


@pytest.mark.slow
def test_json_records_hold_both_decodes_the_cross_scores_and_the_attention(capsys, lines):
    src, ref = lines
    a, b = BUNDLED["deen-bahdanau"], BUNDLED["deen-multihead"]
    code, out, err = compare(capsys, "-c", a, "-c", b, "--src", src, "--ref", ref, "--json")
    assert code == 0
    first, bad, third = (json.loads(line) for line in out.splitlines())
    assert bad == {"line": 2, "source": "", "error": "the source text is empty"}
    assert first["format"] == "attnscope.compare" and first["line"] == 1
    validator = jsonschema.Draft202012Validator(load_schema())
    for side in ("a", "b"):  # each model's own decode is a full decode record
        assert not list(validator.iter_errors(first[side])), side
    assert first["a"]["translation"] and first["b"]["format"] == "attnscope.decode"
    crossed = first["cross_scores"]["b_scores_a"]
    assert len(crossed["token_log_probs"]) == len(crossed["tokens"])
    attention = first["attention"]
    assert attention["level"] == "piece"  # the two models share their tokenizers
    assert len(attention["attention_a"]) == len(attention["rows"])
    assert 0 <= attention["mean_jsd"] <= 1 and third["reference"]["text"] == "Two children play."
    assert "attention on 2 lines" in err


def test_a_second_checkpoint_of_another_task_is_refused(capsys, lines, translators, captioner):
    src, _ = lines
    code, out, err = compare(capsys, "-c", translators["additive"], "-c", captioner, "--src", src)
    assert code == 2 and out == ""
    assert "is a captioning model" in err and "compare translation models" in err


def test_exactly_two_checkpoints_and_matching_files(capsys, lines, translators, tmp_path):
    src, _ = lines
    code, _, err = compare(capsys, "-c", translators["additive"], "--src", src)
    assert code == 2 and "give exactly two checkpoints" in err
    short = write_lines(tmp_path / "short", ["one line"])
    argv = ["-c", translators["additive"], "-c", translators["multihead"], "--src", src]
    code, _, err = compare(capsys, *argv, "--ref", short)
    assert code == 2 and "has 3 lines but" in err
