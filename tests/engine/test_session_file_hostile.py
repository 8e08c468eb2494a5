"""Session files that are broken or hostile (engine/session_archive.py, session_fields.py):
each is refused with one SessionFileError naming what is wrong, bounded before anything is
inflated or parsed deeply. No Qt. (Round trips and replays: test_session_file.py.)"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from session_file_support import decode, manifest_of, rewrite, saved

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.session_archive import MAX_JSON_DEPTH, MAX_MEMBER_BYTES, json_depth
from attnscope.engine.session_file import read_session_file


@pytest.fixture(scope="module")
def model(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


# -- hostile and broken files ----------------------------------------------------------------
@pytest.fixture(scope="module")
def valid(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    return saved(model, folder, decode(model, DecodeConfig(), forced=(1, 10), steps=4))


def _edited(valid, tmp_path, edit) -> Path:
    manifest = manifest_of(valid)
    edit(manifest)
    return rewrite(valid, tmp_path / "edited.attnscope-session", manifest)


MANIFEST_EDITS = {
    "format": (lambda m: m.update(format="something.else"), "not an AttnScope session"),
    "newer": (lambda m: m.update(version=3), "newer AttnScope"),
    "version type": (lambda m: m.update(version="1"), "version"),
    "task": (lambda m: m.update(task="speech"), "unknown task"),
    "settings": (lambda m: m["settings"].update(beam_size=-3), "beam_size"),
    "unknown setting": (lambda m: m["settings"].update(warp=9), "unknown decode settings warp"),
    "hash form": (lambda m: m["checkpoint"].update(sha256="xyz"), "checkpoint.sha256"),
    "size type": (lambda m: m["checkpoint"].update(size="big"), "checkpoint.size"),
    "input kind": (lambda m: m["input"].update(kind="image"), "input must be 'text'"),
    "empty text": (lambda m: m["input"].update(text="  "), "input.text"),
    "steps": (lambda m: m["decode"].update(token_ids=list(range(5000))), "at most 4096"),
    "token type": (lambda m: m["decode"].update(token_ids=["a"] * 4), "token_ids"),
    "steps taken": (lambda m: m["decode"].update(steps_taken=1), "steps_taken"),
    "heads": (lambda m: m["decode"].update(num_heads=1000), "num_heads"),
    "shape": (
        lambda m: m["decode"]["tensors"]["attention"].update(shape=[4, 1, 1, 99]),
        "positions",
    ),
    "dtype": (lambda m: m["decode"]["tensors"]["attention"].update(dtype="|O"), "dtype"),
    "member": (
        lambda m: m["decode"]["tensors"]["attention"].update(member="../../x.bin"),
        "member must be",
    ),
    "record tokens": (lambda m: m["record"]["steps"][0].update(token_id=999), "is not"),
    "record": (lambda m: m.update(record=[]), "'record' is not an object"),
    "intervention": (
        lambda m: m["interventions"].append({"kind": "force", "step": -1, "token_id": 3}),
        "intervention 2",
    ),
    "intervention kind": (
        lambda m: m["interventions"].append({"kind": "pickle"}),
        "unknown intervention kind",
    ),
    "too many interventions": (
        lambda m: m.update(interventions=[{"kind": "force"}] * 5000),
        "over the limit",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_a_bad_manifest_field_is_refused_naming_it(valid, tmp_path, case):
    edit, message = MANIFEST_EDITS[case]
    with pytest.raises(SessionFileError, match=message) as caught:
        read_session_file(_edited(valid, tmp_path, edit))
    assert str(caught.value).startswith("edited.attnscope-session: ")


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../escape.txt", "points outside"),
        ("input/../../escape.png", "points outside"),
        ("/etc/passwd", "points outside"),
        ("input\\..\\evil.png", "points outside"),
        ("C:/windows/evil.png", "points outside"),
        ("notes/readme.txt", "unexpected member"),
    ],
)
def test_zip_slip_names_are_refused(valid, tmp_path, name, message):
    path = rewrite(valid, tmp_path / "slip.attnscope-session", extra={name: b"x"})
    with pytest.raises(SessionFileError, match=message):
        read_session_file(path)


def test_a_symlink_member_is_refused(valid, tmp_path):
    path = rewrite(valid, tmp_path / "link.attnscope-session")
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("input/photo.png")
        info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(SessionFileError, match="symbolic link"):
        read_session_file(path)


def test_a_zip_bomb_member_is_refused_from_its_declared_size(valid, tmp_path):
    path = rewrite(
        valid,
        tmp_path / "bomb.attnscope-session",
        extra={"tensors/x.bin": bytes(MAX_MEMBER_BYTES + 1)},
    )
    assert path.stat().st_size < 1_000_000  # it compresses to almost nothing
    with pytest.raises(SessionFileError, match="over the"):
        read_session_file(path)


def test_a_member_that_inflates_past_its_declared_size_is_cut_off(valid, tmp_path):
    path = rewrite(valid, tmp_path / "liar.attnscope-session")
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("tensors/attention.bin")
    smaller = (info.file_size - 4).to_bytes(4, "little")
    local = info.header_offset + 22
    blob[local : local + 4] = smaller  # the local header's uncompressed size
    for offset in _central_entries(blob, b"tensors/attention.bin"):
        blob[offset + 24 : offset + 28] = smaller
    path.write_bytes(bytes(blob))
    with pytest.raises(SessionFileError, match="attention"):
        read_session_file(path)


def _central_entries(blob: bytearray, name: bytes):
    start = 0
    while (offset := blob.find(b"PK\x01\x02", start)) >= 0:
        length = int.from_bytes(blob[offset + 28 : offset + 30], "little")
        if bytes(blob[offset + 46 : offset + 46 + length]) == name:
            yield offset
        start = offset + 4


def test_a_huge_manifest_is_refused_before_it_is_parsed(valid, tmp_path):
    raw = b'{"format": "attnscope.session", "pad": "' + b" " * (33 * 1024 * 1024) + b'"}'
    path = rewrite(valid, tmp_path / "huge.attnscope-session", raw_manifest=raw)
    with pytest.raises(SessionFileError, match=r"manifest\.json declares"):
        read_session_file(path)


def test_deep_nesting_is_refused_without_recursing(valid, tmp_path):
    raw = b'{"format": "attnscope.session", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert json_depth(raw) == 100_001
    assert json_depth(b'{"a": "[[[[ in a string ]]]", "b": [1, {"c": 2}]}') == 3
    path = rewrite(valid, tmp_path / "deep.attnscope-session", raw_manifest=raw)
    with pytest.raises(SessionFileError, match=f"over the limit of {MAX_JSON_DEPTH}"):
        read_session_file(path)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"format": "attnscope.session",', "not valid JSON"),
        (b'{"version": NaN}', "not valid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
def test_bad_json_is_refused(valid, tmp_path, raw, message):
    path = rewrite(valid, tmp_path / "bad.attnscope-session", raw_manifest=raw)
    with pytest.raises(SessionFileError, match=message):
        read_session_file(path)


@pytest.mark.parametrize(
    "member", ["manifest.json", "tensors/attention.bin", "tensors/topk_ids.bin"]
)
def test_a_missing_member_is_named(valid, tmp_path, member):
    path = rewrite(valid, tmp_path / "missing.attnscope-session", drop=(member,))
    with pytest.raises(SessionFileError, match=f"{member}' is missing"):
        read_session_file(path)


def test_a_tensor_of_the_wrong_length_or_values_is_refused(valid, tmp_path):
    with zipfile.ZipFile(valid) as archive:
        attention = archive.read("tensors/attention.bin")
    short = rewrite(
        valid, tmp_path / "short.attnscope-session", extra={"tensors/attention.bin": attention[:-4]}
    )
    with pytest.raises(SessionFileError, match="needs"):
        read_session_file(short)
    nan = np.frombuffer(attention, dtype="<f4").copy()
    nan[0] = np.nan
    path = rewrite(
        valid, tmp_path / "nan.attnscope-session", extra={"tensors/attention.bin": nan.tobytes()}
    )
    with pytest.raises(SessionFileError, match=r"outside \[0, 1\]"):
        read_session_file(path)


def test_files_that_are_not_session_zips_are_refused(tmp_path):
    cases = {
        "text.attnscope-session": b"hello, not a zip",
        "empty.attnscope-session": b"",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(SessionFileError, match="not a zip archive"):
            read_session_file(tmp_path / name)
    (tmp_path / "folder.attnscope-session").mkdir()
    with pytest.raises(SessionFileError, match="not a file"):
        read_session_file(tmp_path / "folder.attnscope-session")
    os.symlink(tmp_path / "loop-b", tmp_path / "loop-a")
    os.symlink(tmp_path / "loop-a", tmp_path / "loop-b")
    with pytest.raises(SessionFileError):
        read_session_file(tmp_path / "loop-a")
    many = _zip_with(
        tmp_path / "many.attnscope-session", {f"input/{i}.png": b"" for i in range(65)}
    )
    with pytest.raises(SessionFileError, match="members, over the limit"):
        read_session_file(many)
