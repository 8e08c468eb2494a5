"""Hostile files on the picture and data side (issue 23 item 11): special files given as
pictures or text, file names that are not UTF-8, captions CSVs in Latin-1 or with a huge
field, a reference the model finds all but impossible, and the memory a large 16-bit,
float or RGBA picture may take."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from fuzz_images import encode_picture
from fuzz_inputs import write_tiny_captioner
from PIL import Image

from attnscope.engine import images
from attnscope.engine.cli import main
from attnscope.engine.errors import DataError, ImageInputError
from attnscope.engine.input_files import read_text_lines
from attnscope.engine.reference import ReferenceReport
from attnscope.engine.training import data


@pytest.fixture(scope="module")
def captioner(tmp_path_factory):
    return write_tiny_captioner(tmp_path_factory.mktemp("captioner"))


def _special(tmp_path, kind: str):
    """A path of the given kind (what it must be reported as, in the second place)."""
    path = tmp_path / f"special-{kind}.png"
    if kind == "fifo":
        os.mkfifo(path)
        return path, "a FIFO (named pipe)"
    if kind == "device link":
        path.symlink_to("/dev/zero")
        return path, "a character device"
    if kind == "link loop":
        other = tmp_path / "loop-other.png"
        other.symlink_to(path)
        path.symlink_to(other)
        return path, "a symbolic link loop"
    if kind == "broken link":
        path.symlink_to(tmp_path / "gone.png")
        return path, "a broken symbolic link"
    if kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return path, "a socket"
    path.mkdir()
    return path, "a directory"


SPECIAL = ["fifo", "device link", "link loop", "broken link", "socket", "directory"]


def _within(seconds: float, action):
    """Run ``action`` in a thread; fail (instead of hanging the suite) if it blocks."""
    outcome = {}

    def run():
        try:
            outcome["value"] = action()
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked (a FIFO opened for a blocking read?)"
    return outcome


# -- special files: 6 kinds x (picture, text input, CLI) --------------------------------------
@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_file_given_as_a_picture_is_named_and_never_blocks(tmp_path, kind):
    path, what = _special(tmp_path, kind)
    outcome = _within(10, lambda: images.load_image(path))
    assert isinstance(outcome.get("error"), ImageInputError), outcome
    assert what in str(outcome["error"]) and "does not exist" not in str(outcome["error"])


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_special_file_given_as_text_is_named_and_never_blocks(tmp_path, kind):
    path, what = _special(tmp_path, kind)
    outcome = _within(10, lambda: read_text_lines(path, what="-i"))
    assert isinstance(outcome.get("error"), DataError), outcome
    assert f"-i {path}: it is {what}" in str(outcome["error"])


@pytest.mark.parametrize("kind", ["fifo", "device link", "link loop"])
def test_the_cli_names_a_special_input_in_one_line(
    tiny_translation_checkpoint, captioner, tmp_path, capsys, kind
):
    path, what = _special(tmp_path, kind)
    if kind != "fifo":  # a pipe named with -i is read like stdin: see the next test
        assert main(["translate", "-c", str(tiny_translation_checkpoint), "-i", str(path)]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and what in err
    assert main(["caption", "-c", str(captioner), "--max-length", "4", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and what in err and "Traceback" not in err


def test_a_pipe_named_on_the_command_line_is_read_like_stdin(
    tiny_translation_checkpoint, tmp_path, capsys
):
    """`attnscope translate -i <(zcat f.gz)`: the shell hands over a pipe; it is read
    (bounded, newline-only) until its writer closes it. The app never reads one."""
    path, _ = _special(tmp_path, "fifo")

    def write() -> None:
        with open(path, "w", encoding="utf-8") as pipe:
            pipe.write("ein mann .\nzwei hunde .\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    args = ["translate", "-c", str(tiny_translation_checkpoint), "--max-length", "4"]
    outcome = _within(60, lambda: main([*args, "-i", str(path)]))
    writer.join(10)
    assert outcome.get("value") == 0, outcome
    assert len(capsys.readouterr().out.splitlines()) == 2


# -- file names that are not UTF-8 -------------------------------------------------------------
def _folder_with_odd_names(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    picture = encode_picture("PNG", "RGB", (12, 9), 1, 3)
    names = [b"a-good.png", b"caf\xe9.png", b"\xff\xfe-odd.png", b"z-good.png"]
    for name in names:
        with open(os.path.join(os.fsencode(folder), name), "wb") as stream:
            stream.write(picture)
    os.mkfifo(folder / "m-fifo.png")
    return folder, len(names)


def test_a_folder_with_non_utf8_names_is_captioned_whole(captioner, tmp_path, capsys):
    folder, pictures = _folder_with_odd_names(tmp_path)
    status = main(["caption", "-c", str(captioner), "--max-length", "4", str(folder)])
    out, err = capsys.readouterr()
    assert status == 1  # the FIFO is reported, every picture captioned
    rows = out.splitlines()
    assert len(rows) == pictures and any("caf\\xe9.png\t" in row for row in rows)
    assert "m-fifo.png" in err and "FIFO" in err
    status = main(["caption", "-c", str(captioner), "--max-length", "4", "--json", str(folder)])
    raw = capsys.readouterr().out.encode("utf-8")  # what a pipe would carry
    records = [json.loads(line) for line in raw.decode("utf-8", "strict").splitlines()]
    assert len(records) == pictures + 1
    assert sum(r.get("error") is not None for r in records) == 1
    assert {r["image"] for r in records} >= {"caf\\xe9.png", "\\xff\\xfe-odd.png"}


def test_the_cli_output_survives_a_real_pipe(captioner, tmp_path):
    folder, pictures = _folder_with_odd_names(tmp_path)
    args = ["-c", str(captioner), "--max-length", "4", "--json", str(folder)]
    done = subprocess.run(
        [sys.executable, "-m", "attnscope", "caption", *args],
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    lines = done.stdout.decode("utf-8").splitlines()
    assert len([json.loads(line) for line in lines]) == pictures + 1


@pytest.mark.parametrize("command", ["translate", "evaluate", "score"])
def test_a_checkpoint_named_in_latin_1_gives_one_printable_line(
    tiny_translation_checkpoint, tmp_path, capsys, command
):
    """safetensors cannot open a path that is not UTF-8: the refusal still prints (capsys's
    stderr is strict UTF-8), naming the file with its odd byte as \\xe8."""
    named = os.path.join(os.fsencode(tmp_path), b"mod\xe8le.safetensors")
    with open(named, "wb") as stream:
        stream.write(tiny_translation_checkpoint.read_bytes())
    src = tmp_path / "src.txt"
    src.write_text("ein mann .\n", encoding="utf-8")
    inputs = ["-i", str(src)] if command == "translate" else ["--src", str(src), "--ref", str(src)]
    status = main([command, "-c", os.fsdecode(named), *inputs, "--json"])
    out, err = capsys.readouterr()
    if status == 0:  # a loader that opens such names: the JSON must still be UTF-8
        assert all(json.loads(line) for line in out.encode("utf-8").decode().splitlines())
    else:
        assert status == 2 and out == "" and len(err.splitlines()) == 1
        assert "mod\\xe8le.safetensors" in err


# -- captions CSVs: Latin-1, a huge field, a bad header, bad UTF-8 in a later line -----------
CSV_CASES = {
    "latin-1": (b"image,caption\na.jpg,a dog\nb.jpg,un caf\xe9\n", "captions.csv:3 is not UTF-8"),
    "huge field": (
        b"image,caption\na.jpg,a dog\nb.jpg," + b"x" * 200_000 + b"\n",
        "captions.csv:3: field larger than field limit",
    ),
    "unclosed quote": (
        b'image,caption\na.jpg,a dog\nb.jpg,"' + b"y" * 200_000,
        "captions.csv:3: field larger than field limit",
    ),
    "one column": (b"image,caption\na.jpg,a dog\nb.jpg\n", "captions.csv:3 needs"),
    "cesu-8": (b"image,caption\na.jpg,a dog\n\xed\xa0\x80.jpg,x\n", "captions.csv:3 is not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_a_bad_captions_csv_names_the_file_and_line(tmp_path, case):
    content, message = CSV_CASES[case]
    path = tmp_path / "captions.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        data.read_captions_csv(path)
    assert message in str(caught.value)


def test_evaluate_says_which_file_and_line(captioner, tmp_path, capsys):
    path = tmp_path / "captions.csv"
    path.write_bytes(CSV_CASES["latin-1"][0])
    args = ["evaluate", "-c", str(captioner), "--images", str(tmp_path), "--captions", str(path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "captions.csv:3 is not UTF-8 (byte 0xe9)" in err


# -- numbers at the edge -----------------------------------------------------------------------
@pytest.mark.parametrize("log_prob", [-1e6, -745.2 * 3, float("-inf")])
def test_an_impossible_reference_has_an_infinite_perplexity_not_a_crash(log_prob):
    from attnscope.engine.commands.score import _as_row, summarize
    from attnscope.engine.decode_record import json_line

    report = ReferenceReport(
        pieces=("▁a", "▁b", "</s>"),
        token_log_probs=(log_prob, -0.5, -0.1),
        unknown=(),
        disagreements=(),
    )
    assert report.perplexity == float("inf")
    assert "perplexity inf" in report.describe()
    assert _as_row(report).split("\t")[2] == "inf"
    record = json.loads(json_line(report.as_dict()))
    assert record["perplexity"] is None
    assert "perplexity inf" in summarize([report], 1)


# -- memory on allowed pictures ----------------------------------------------------------------
def _reference_high_depth(array: np.ndarray, top: float) -> np.ndarray:
    return np.clip(np.nan_to_num(array.astype(np.float64)) / top * 255.0 + 0.5, 0, 255).astype(
        np.uint8
    )


@pytest.mark.parametrize("mode", ["I;16", "I", "F", "RGBA", "LA"])
def test_strip_conversion_gives_the_same_pixels(monkeypatch, mode):
    monkeypatch.setattr(images, "STRIP_PIXELS", 37)  # many strips, ragged last one
    rng = np.random.default_rng(5)
    if mode == "I;16":
        array = rng.integers(0, 65536, (23, 11), dtype=np.uint16)
        picture, expected = Image.fromarray(array), _reference_high_depth(array, 65535.0)
    elif mode == "I":
        array = rng.integers(0, 300_000, (23, 11), dtype=np.int32)
        picture = Image.fromarray(array)
        expected = _reference_high_depth(array, float(array.max()))
    elif mode == "F":
        array = (rng.random((23, 11)) * 0.9).astype(np.float32)
        array[4, 4] = np.nan
        picture, expected = Image.fromarray(array), _reference_high_depth(array, 1.0)
    else:
        array = rng.integers(0, 256, (23, 11, 4), dtype=np.uint8)
        picture = Image.fromarray(array, "RGBA").convert(mode)
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        expected = np.asarray(Image.alpha_composite(white, picture.convert("RGBA")).convert("L"))
    converted = images.to_rgb(picture)
    assert converted.mode == "RGB" and converted.size == (11, 23)
    got = np.asarray(converted)
    if mode in ("RGBA", "LA"):
        assert np.array_equal(np.asarray(converted.convert("L")), expected)
    else:
        assert np.array_equal(got[..., 0], expected) and np.array_equal(got[..., 1], expected)


@pytest.mark.parametrize("mode", ["I;16", "F"])
def test_converting_a_large_high_depth_picture_makes_no_full_size_float_copy(mode):
    width, height = 4000, 2500  # 10 megapixels: a float64 copy alone would be 80 MB
    array = np.linspace(0, 60000, width * height).reshape(height, width)
    picture = Image.fromarray(array.astype(np.uint16 if mode == "I;16" else np.float32))
    del array
    tracemalloc.start()
    try:
        images.to_rgb(picture)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB of numpy temporaries"


# VmHWM is this process's own peak: getrusage's ru_maxrss would carry pytest's over exec
MEASURE = """
import sys
from attnscope.engine.images import load_image
load_image(sys.argv[1])
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


@pytest.mark.parametrize("mode", ["I;16", "RGBA"])
def test_peak_memory_of_a_12_megapixel_picture_stays_bounded(tmp_path, mode):
    """Whole-process peak (Pillow's own buffers included), in a fresh interpreter: before
    the strip conversion a 16-bit picture of this size peaked near 350 MB."""
    width, height = 4000, 3000
    ramp = np.linspace(0, 1, width * height).reshape(height, width)
    if mode == "I;16":
        picture = Image.fromarray((ramp * 65535).astype(np.uint16))
    else:
        rgba = np.zeros((height, width, 4), np.uint8)
        rgba[..., 0], rgba[..., 3] = (ramp * 255).astype(np.uint8), 128
        picture = Image.fromarray(rgba, "RGBA")
    path = tmp_path / "large.png"
    picture.save(path, compress_level=1)
    del picture, ramp
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stdout) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB"
