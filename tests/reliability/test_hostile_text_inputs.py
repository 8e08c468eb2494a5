"""Hostile text inputs on the command line (issue 23 item 11, text side): bad UTF-8, line and
record separators inside a line, absurd decoding options, unwritable output paths and
compressed bombs. Each gives one clear line (exit 2) or keeps every good line; nothing is
half-written and no traceback escapes."""

from __future__ import annotations

import gzip
import io
import json
import os
import tracemalloc
import zlib

import pytest
from fuzz_text_files import BAD_UTF8, SEPARATORS

from attnscope.engine import input_files
from attnscope.engine.cli import main
from attnscope.engine.errors import DataError
from attnscope.engine.training import data

GOOD = "ein mann fährt fahrrad ."
DECODE = ["--max-length", "6"]


def _cli(capsys, *args) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def _one_line_error(err: str, *names: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attnscope: error: "), err
    assert "Traceback" not in err and all(name in lines[0] for name in names), err


def _lines_file(path, lines: list[bytes]):
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


# -- text encodings: 7 bad sequences x (text, --json, stdin, score, evaluate) ----------------
@pytest.mark.parametrize("bad", BAD_UTF8, ids=[b.hex() for b in BAD_UTF8])
def test_a_line_with_bad_utf8_is_kept_replaced_and_reported(
    tiny_translation_checkpoint, tmp_path, capsys, bad
):
    lines = [GOOD.encode(), b"zwei " + bad + b" hunde", GOOD.encode()]
    src = _lines_file(tmp_path / "in.txt", lines)
    ckpt = ("translate", "-c", tiny_translation_checkpoint, *DECODE)
    status, out, err = _cli(capsys, *ckpt, "-i", src)
    assert status == 0 and out.count("\n") == 3
    assert "in.txt: line 2 not valid UTF-8" in err and "U+FFFD" in err
    status, out, _ = _cli(capsys, *ckpt, "-i", src, "--json")
    records = [json.loads(line) for line in out.encode("utf-8").decode("utf-8").splitlines()]
    assert status == 0 and len(records) == 3 and "\ufffd" in records[1]["source"]


def test_bad_utf8_on_stdin_keeps_the_other_lines(tiny_translation_checkpoint, capsys, monkeypatch):
    raw = b"ein mann .\n\xed\xa0\x80\xff\n\nzwei hunde .\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    status, out, err = _cli(capsys, "translate", "-c", tiny_translation_checkpoint, *DECODE)
    assert status == 0 and out.count("\n") == 4 and "standard input: line 2" in err


def test_score_and_evaluate_keep_a_bad_line_in_place(tiny_translation_checkpoint, tmp_path, capsys):
    src = _lines_file(tmp_path / "src.txt", [GOOD.encode(), b"caf\xe9", GOOD.encode()])
    ref = _lines_file(tmp_path / "ref.txt", [b"a man .", b"\xc0\xaf", b"a man ."])
    status, out, err = _cli(
        capsys, "score", "-c", tiny_translation_checkpoint, "--src", src, "--ref", ref, "--json"
    )
    assert status == 0 and len([json.loads(x) for x in out.splitlines()]) == 3
    assert "src.txt: line 2" in err and "ref.txt: line 2" in err
    hyp = tmp_path / "hyp.txt"
    args = ("evaluate", "-c", tiny_translation_checkpoint, "--src", src, "--ref", ref)
    status, out, err = _cli(capsys, *args, "--hypotheses", hyp, *DECODE)
    assert status == 0 and hyp.read_text(encoding="utf-8").count("\n") == 3
    assert "src.txt: line 2" in err


def test_a_training_file_keeps_its_bad_line(tmp_path, caplog):
    path = _lines_file(tmp_path / "train.de", [b"eins", b"zw\xffei", b"drei"])
    assert data.read_lines(path) == ["eins", "zw\ufffdei", "drei"]
    assert "line 2 not valid UTF-8" in caplog.text


# -- line splitting: 9 separators x (text, --json, score, evaluate, translate_file, training) --
@pytest.mark.parametrize("separator", SEPARATORS, ids=[f"U+{ord(s):04X}" for s in SEPARATORS])
def test_a_separator_inside_a_line_does_not_split_it(
    tiny_translation_checkpoint, tmp_path, capsys, separator
):
    lines = [GOOD, f"zwei{separator}hunde spielen", "", f"ein{separator}mann"]
    src = tmp_path / "in.txt"
    src.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    ckpt = ("translate", "-c", tiny_translation_checkpoint, *DECODE)
    assert _cli(capsys, *ckpt, "-i", src)[1].count("\n") == len(lines)
    status, out, _ = _cli(capsys, *ckpt, "-i", src, "--json")
    records = [json.loads(line) for line in out.split("\n")[:-1]]
    assert status == 0 and [r["source"] for r in records] == lines
    assert len(out.splitlines()) == len(lines)  # even str.splitlines sees one record per line
    status, out, _ = _cli(
        capsys, "score", "-c", tiny_translation_checkpoint, "--src", src, "--ref", src, *DECODE
    )
    assert status == 0 and out.count("\n") == len(lines)
    hyp = tmp_path / "hyp.txt"
    args = ("evaluate", "-c", tiny_translation_checkpoint, "--src", src, "--ref", src)
    assert _cli(capsys, *args, "--hypotheses", hyp, *DECODE)[0] == 0
    assert hyp.read_bytes().count(b"\n") == len(lines)
    assert data.read_lines(src) == lines


def test_the_apps_file_translation_keeps_one_line_per_line(tiny_translation_checkpoint, tmp_path):
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    lines = [f"ein{s}mann" for s in SEPARATORS]
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_bytes("".join(line + "\r\n" for line in lines).encode("utf-8"))
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    assert model.translate_file(str(src), str(out), DecodeConfig(max_length=6))
    assert out.read_bytes().count(b"\n") == len(lines)


def test_the_apps_file_translation_refuses_an_unwritable_output_first(
    tiny_translation_checkpoint, tmp_path
):
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    src = _lines_file(tmp_path / "in.txt", [GOOD.encode()])
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    for out in (tmp_path / "gone" / "out.txt", tmp_path):
        with pytest.raises(DataError, match="output file"):
            model.translate_file(str(src), str(out), DecodeConfig(max_length=6))
    assert sorted(os.listdir(tmp_path)) == ["in.txt"]


# -- option values: every decoding option, 23 values --------------------------------------------
ABSURD_OPTIONS = [
    ("--beam", "100000000"),
    ("--beam", "-1"),
    ("--n-best", "0"),
    ("--n-best", "9"),  # more than --beam 2
    ("--seed", str(2**70)),
    ("--seed", "-5"),
    ("--temperature", "nan"),
    ("--temperature", "inf"),
    ("--temperature", "0"),
    ("--temperature", "1e-300"),
    ("--temperature", "-1"),
    ("--top-k", "-1"),
    ("--top-k", str(10**12)),
    ("--top-p", "nan"),
    ("--top-p", "0"),
    ("--top-p", "2"),
    ("--max-length", str(10**9)),
    ("--max-length", "0"),
    ("--alpha", "nan"),
    ("--alpha", "-inf"),
    ("--batch-size", "0"),
    ("--batch-size", str(10**9)),
    ("--batch-size", "-4"),
]


@pytest.mark.parametrize(("option", "value"), ABSURD_OPTIONS)
@pytest.mark.parametrize("command", ["translate", "score", "evaluate", "caption"])
def test_an_absurd_option_is_refused_in_one_line_naming_it(
    tiny_translation_checkpoint, tmp_path, capsys, command, option, value
):
    src = _lines_file(tmp_path / "in.txt", [GOOD.encode()])
    beam = ["--beam", "2"] if option == "--n-best" else []
    inputs = {
        "translate": ["-i", src],
        "score": ["--src", src, "--ref", src],
        "evaluate": ["--src", src, "--ref", src],
        "caption": [tmp_path],
    }[command]
    args = (command, "-c", tiny_translation_checkpoint, *beam, f"{option}={value}", *inputs)
    status, out, err = _cli(capsys, *args)
    assert status == 2 and out == ""
    _one_line_error(err, option)


# -- output paths: translate -o, score -o, evaluate --hypotheses -------------------------------
@pytest.mark.parametrize("where", ["missing folder", "a folder", "a file as folder"])
@pytest.mark.parametrize(
    ("command", "option"), [("translate", "-o"), ("score", "-o"), ("evaluate", "--hypotheses")]
)
def test_an_unwritable_output_is_refused_before_any_work(
    tiny_translation_checkpoint, tmp_path, capsys, command, option, where
):
    src = _lines_file(tmp_path / "in.txt", [GOOD.encode()])
    target = {
        "missing folder": tmp_path / "nowhere" / "out.txt",
        "a folder": tmp_path,
        "a file as folder": src / "out.txt",
    }[where]
    inputs = ["-i", src] if command == "translate" else ["--src", src, "--ref", src]
    before = sorted(os.listdir(tmp_path))
    status, out, err = _cli(
        capsys, command, "-c", tiny_translation_checkpoint, *inputs, option, target
    )
    assert status == 2 and out == ""
    _one_line_error(err, option)
    assert sorted(os.listdir(tmp_path)) == before  # nothing half-written, no .partial


def test_a_write_that_fails_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(input_files.os, "replace", full_disk)
    with pytest.raises(DataError, match=r"-o .*out.txt: No space left"):
        input_files.write_text_atomically(target, "new\n", "-o")
    assert os.listdir(tmp_path) == ["out.txt"] and target.read_text() == "old\n"


# -- compressed input: bombs refused with bounded memory, honest gzip read ----------------------
def _gzip_bomb(path, megabytes: int):
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1024 * 1024)
    with path.open("wb") as stream:
        for _ in range(megabytes):
            stream.write(packer.compress(zeros))
        stream.write(packer.flush())
    return path


@pytest.mark.parametrize(
    "reader",
    [
        lambda p: input_files.read_text_lines(p),
        data.read_lines,
        data.read_captions_csv,
        lambda p: data.read_tsv_pairs(p),
    ],
    ids=["decode input", "training lines", "captions csv", "tsv pairs"],
)
def test_a_gzip_bomb_is_refused_with_bounded_memory(tmp_path, monkeypatch, reader):
    monkeypatch.setattr(input_files, "MAX_DECODE_INPUT_BYTES", 4 * input_files.MiB)
    monkeypatch.setattr(data, "MAX_TRAINING_TEXT_BYTES", 4 * input_files.MiB)
    bomb = _gzip_bomb(tmp_path / "bomb.txt.gz", 64)  # 64 MiB of zeros in 64 kB
    assert bomb.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"bomb.txt.gz expands to more than the 4 MiB limit"):
            reader(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * input_files.MiB, f"{peak:,} bytes"


@pytest.mark.parametrize("flag", ["-i", "--src"])
def test_the_cli_refuses_a_gzip_bomb_in_one_line(
    tiny_translation_checkpoint, tmp_path, capsys, monkeypatch, flag
):
    monkeypatch.setattr(input_files, "MAX_DECODE_INPUT_BYTES", 2 * input_files.MiB)
    bomb = _gzip_bomb(tmp_path / "bomb.gz", 8)
    command = ["translate", flag, bomb] if flag == "-i" else ["score", flag, bomb, "--ref", bomb]
    status, out, err = _cli(capsys, command[0], "-c", tiny_translation_checkpoint, *command[1:])
    assert status == 2 and out == ""
    _one_line_error(err, "bomb.gz", "2 MiB limit")


def test_gzip_members_and_damage(tmp_path):
    two = tmp_path / "two.gz"
    two.write_bytes(gzip.compress(b"eins\nzwei\n") + gzip.compress(b"drei\n"))
    assert input_files.read_text_lines(two).lines == ["eins", "zwei", "drei"]
    cut = tmp_path / "cut.gz"
    cut.write_bytes(two.read_bytes()[:20])
    with pytest.raises(DataError, match="truncated gzip"):
        input_files.read_text_lines(cut)
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"\x1f\x8b" + b"\xff" * 40)
    with pytest.raises(DataError, match="not a valid gzip"):
        input_files.read_text_lines(junk)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(DataError, match="larger than the 1,024 bytes limit"):
        input_files.read_text_lines(big, max_bytes=1024)


def test_a_small_file_costs_no_limit_sized_buffer(tmp_path):
    """The bound is checked while reading in chunks: a 2-line file must not reserve the
    256 MiB limit up front (a sparse read buffer still counts against a shared machine)."""
    small = _lines_file(tmp_path / "small.txt", [b"eins", b"zwei"])
    tracemalloc.start()
    try:
        assert input_files.read_text_lines(small).lines == ["eins", "zwei"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * input_files.MiB, f"{peak:,} bytes"
