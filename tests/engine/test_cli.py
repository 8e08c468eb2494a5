"""The translate / info CLI on a checkpoint saved by a test model."""

import json
import pickle
import subprocess
import sys

import pytest

from attnscope.engine.cli import main


def run_cli(args, stdin="", tmp_path=None):
    return subprocess.run(
        [sys.executable, "-m", "attnscope", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert "attnscope" in capsys.readouterr().out


def test_translate_stdin_keeps_order_and_empty_lines(
    tiny_translation_checkpoint, capsys, monkeypatch
):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("ein mann .\n\nzwei hunde spielen .\n"))
    assert main(["translate", "-c", str(tiny_translation_checkpoint), "--max-length", "8"]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""


def test_translate_json_has_tokens_scores_and_attention(
    tiny_translation_checkpoint, tmp_path, capsys
):
    source = tmp_path / "in.txt"
    source.write_text("ein mann fährt fahrrad .\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    args = [
        "translate",
        "-c",
        str(tiny_translation_checkpoint),
        "--beam",
        "3",
        "--n-best",
        "2",
        "--json",
        "-i",
        str(source),
        "-o",
        str(out),
        "--max-length",
        "6",
    ]
    assert main(args) == 0
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["source"] == "ein mann fährt fahrrad ."
    assert len(record["nbest"]) == 2
    attention = record["attention"]  # (T, layers, heads, S)
    assert len(attention) == len(record["pieces"])
    assert len(attention[0][0][0]) == len(record["source_pieces"])
    assert all(abs(sum(row[0][0]) - 1) < 1e-3 for row in attention)


def test_info_describes_the_checkpoint(tiny_translation_checkpoint, capsys):
    assert main(["info", str(tiny_translation_checkpoint)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["task"] == "translation"


class Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_info_on_a_pickle_payload_runs_nothing_and_exits_2(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps({"weights": Payload(marker)}))
    result = run_cli(["info", str(bad)], tmp_path=tmp_path)
    assert result.returncode == 2
    assert not marker.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.pt" in lines[0]


def test_translate_rejects_captioning_or_bad_file(tmp_path, capsys):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x00" * 3)
    assert main(["translate", "-c", str(bad)]) == 2
    assert "x.safetensors" in capsys.readouterr().err


def test_translate_batches_lines_and_a_bad_line_only_skips_itself(
    tiny_translation_checkpoint, tmp_path, capsys
):
    from attnscope.engine.inference import MAX_SOURCE_TOKENS

    good = ["ein mann .", "zwei hunde spielen im park .", "eine frau"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join([good[0], "ein " * (MAX_SOURCE_TOKENS * 2), *good[1:]]) + "\n")
    args = ["translate", "-c", str(tiny_translation_checkpoint), "--max-length", "8"]
    assert main([*args, "-i", str(source), "--json"]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [("error" in row) for row in rows] == [False, True, False, False]
    assert "tokens long" in rows[1]["error"] and "line skipped" in captured.err
    one_by_one = []
    for line in good:  # the batched lines read as each line alone
        single = tmp_path / "one.txt"
        single.write_text(line + "\n")
        assert main([*args, "-i", str(single), "--json"]) == 0
        one_by_one.append(json.loads(capsys.readouterr().out))
    assert [r["pieces"] for r in rows if "error" not in r] == [r["pieces"] for r in one_by_one]
