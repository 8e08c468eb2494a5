"""Session files (engine/session_file.py, session_archive.py, session_fields.py, session_replay.py):
a round trip is bit-exact, a replay reproduces the decode, and broken or hostile zips are
refused with one SessionFileError naming what is wrong. No Qt."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from attnscope.engine.decode_record import load_schema
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.interventions import AttentionEdit, ForceToken, ImageMask
from attnscope.engine.session_archive import MAX_JSON_DEPTH, MAX_MEMBER_BYTES, json_depth
from attnscope.engine.session_file import (
    SessionInput,
    read_session_file,
    session_from_snapshot,
    write_session_file,
)
from attnscope.engine.session_replay import (
    ReplayPlan,
    check_replay,
    checkpoint_ref,
    replay_decode,
    stored_snapshot,
    verify_checkpoint,
)

SOURCE = "ein mann fährt fahrrad ."


@pytest.fixture(scope="module")
def model(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


def decode(model, config, forced=None, steps=None):
    """An open session on SOURCE: ``forced`` = (step, token) taken there, then run on."""
    opened = model.open_session(SOURCE, config)
    if forced is not None:
        opened.run(until=forced[0])
        opened.force(forced[1], at_step=forced[0])
    opened.run(until=steps)
    return opened


def saved(model, tmp_path, opened, **options) -> Path:
    snapshot = opened.snapshot()
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(model.checkpoint.path),
        settings=opened.session.config,
        source=SessionInput(text=snapshot.source_text),
        **options,
    )
    return write_session_file(tmp_path / "decode.attnscope-session", session)


def assert_same_decode(a, b):
    assert [s.token_id for s in a.steps] == [s.token_id for s in b.steps]
    assert a.attention.dtype == b.attention.dtype == np.float32
    assert a.attention.tobytes() == b.attention.tobytes()
    for x, y in zip(a.steps, b.steps, strict=True):
        assert x.topk_ids.tolist() == y.topk_ids.tolist()
        assert np.asarray(x.topk_probs, np.float32).tobytes() == y.topk_probs.tobytes()
        assert x.log_prob == y.log_prob
        assert (x.piece, x.forced, x.topk_pieces) == (y.piece, y.forced, y.topk_pieces)


# -- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_a_forced_decode_round_trips_bit_for_bit_and_replays_exactly(model, tmp_path, strategy):
    config = DecodeConfig(strategy=strategy, beam_size=3, n_best=1)
    opened = decode(model, config, forced=(2, 10))
    path = saved(model, tmp_path, opened)
    session = read_session_file(path)
    assert session.interventions == (ForceToken(step=2, token_id=10),)
    assert session.settings == config
    assert session.checkpoint.sha256 == checkpoint_ref(model.checkpoint.path).sha256
    assert_same_decode(opened.snapshot(), stored_snapshot(session))
    jsonschema.validate(session.record, load_schema())  # the one decode record format
    plan = ReplayPlan(steps=session.decode.steps_taken, interventions=session.interventions)
    replayed = replay_decode(model, session.source.text, session.settings, plan).snapshot()
    assert_same_decode(opened.snapshot(), replayed)
    check = check_replay(session.decode, replayed)
    assert check.matches and check.attention_identical
    assert "reproduces" in check.message


def test_a_replay_that_differs_says_from_which_step(model, tmp_path):
    path = saved(model, tmp_path, decode(model, DecodeConfig(), forced=(1, 10)))
    session = read_session_file(path)
    replayed = replay_decode(model, SOURCE, session.settings, ReplayPlan(steps=3)).snapshot()
    check = check_replay(session.decode, replayed)
    assert not check.matches and check.first_difference == 1
    assert "from step 2" in check.message


def test_attention_edits_masks_and_breakpoints_list_round_trip(model, tmp_path):
    opened = decode(model, DecodeConfig(), steps=3)
    length = opened.snapshot().attention.shape[2]
    weights = np.full((1, length), 1 / length, dtype=np.float32)
    edit = AttentionEdit(step=1, weights=weights)
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:3, 2:6] = True
    path = saved(model, tmp_path, opened, interventions=(edit, ImageMask(mask, "noise", 7)))
    session = read_session_file(path)
    assert session.interventions == (edit, ImageMask(mask, "noise", 7))
    assert session.interventions[0].weights.tobytes() == weights.tobytes()
    plan = ReplayPlan(steps=3, interventions=session.interventions)
    assert plan.step_plan()[1] == edit and plan.step_plan()[0] is None
    assert plan.of_kind("mask") == [ImageMask(mask, "noise", 7)]


def test_the_autosaves_per_step_plan_is_a_replay_plan():
    plan = ReplayPlan.from_token_plan((None, 12, None))
    assert plan.steps == 3 and plan.step_plan() == (None, 12, None)


def test_a_picture_is_stored_as_its_original_bytes(tmp_path, model):
    buffer = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 30, 30)).save(buffer, format="PNG")
    snapshot = decode(model, DecodeConfig(), steps=2).snapshot()
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(model.checkpoint.path),
        settings=DecodeConfig(),
        source=SessionInput(text=SOURCE),
    )
    path = write_session_file(tmp_path / "t.attnscope-session", session)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [
            "manifest.json",
            "tensors/attention.bin",
            "tensors/log_probs.bin",
            "tensors/topk_ids.bin",
            "tensors/topk_probs.bin",
        ]
    # a captioning manifest points at input/<name>, whose bytes come back unchanged
    manifest = _manifest(path)
    manifest["task"] = manifest["record"]["task"] = "captioning"
    manifest["input"] = {"kind": "image", "name": "red.png", "member": "input/red.png"}
    manifest["record"]["caption"] = manifest["record"].pop("translation")
    manifest["record"]["grid"] = [1, snapshot.attention.shape[2]]
    tampered = _rewrite(
        path, tmp_path / "c.attnscope-session", manifest, {"input/red.png": buffer.getvalue()}
    )
    session = read_session_file(tampered)
    assert session.source.image_bytes == buffer.getvalue()
    assert session.source.image_rgb.shape == (8, 12, 3)
    assert stored_snapshot(session).image is session.source.image_rgb


def test_the_checkpoint_is_refused_when_its_hash_or_size_differs(model, tmp_path):
    ref = checkpoint_ref(model.checkpoint.path)
    other = tmp_path / "other.safetensors"
    data = bytearray(Path(model.checkpoint.path).read_bytes())
    data[-1] ^= 0xFF  # same size, one bit pattern changed
    other.write_bytes(bytes(data))
    with pytest.raises(SessionFileError) as caught:
        verify_checkpoint(ref, other)
    message = str(caught.value)
    assert ref.sha256[:12] in message and checkpoint_ref(other).sha256[:12] in message
    other.write_bytes(bytes(data[:-10]))
    with pytest.raises(SessionFileError, match="bytes"):
        verify_checkpoint(ref, other)
    with pytest.raises(SessionFileError, match="does not exist"):
        verify_checkpoint(ref, tmp_path / "gone.safetensors")
    verify_checkpoint(ref, model.checkpoint.path)  # the right one passes


def test_writing_is_atomic(model, tmp_path, monkeypatch):
    path = saved(model, tmp_path, decode(model, DecodeConfig(), steps=2))
    before = path.read_bytes()
    session = read_session_file(path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", broken)
    with pytest.raises(OSError, match="disk full"):
        write_session_file(path, session)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


# -- hostile and broken files ----------------------------------------------------------------
def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def _rewrite(src: Path, dst: Path, manifest=None, extra=None, drop=(), raw_manifest=None) -> Path:
    """``src`` with its manifest replaced, members added (name -> bytes) or dropped."""
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    if manifest is not None:
        members["manifest.json"] = json.dumps(manifest).encode()
    if raw_manifest is not None:
        members["manifest.json"] = raw_manifest
    members.update(extra or {})
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


@pytest.fixture(scope="module")
def valid(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("session")
    return saved(model, folder, decode(model, DecodeConfig(), forced=(1, 10), steps=4))


def _edited(valid, tmp_path, edit) -> Path:
    manifest = _manifest(valid)
    edit(manifest)
    return _rewrite(valid, tmp_path / "edited.attnscope-session", manifest)


MANIFEST_EDITS = {
    "format": (lambda m: m.update(format="something.else"), "not an AttnScope session"),
    "newer": (lambda m: m.update(version=2), "newer AttnScope"),
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
        lambda m: m["decode"]["tensors"]["attention"].update(shape=[4, 1, 99]),
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
    path = _rewrite(valid, tmp_path / "slip.attnscope-session", extra={name: b"x"})
    with pytest.raises(SessionFileError, match=message):
        read_session_file(path)


def test_a_symlink_member_is_refused(valid, tmp_path):
    path = _rewrite(valid, tmp_path / "link.attnscope-session")
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("input/photo.png")
        info.external_attr = 0o120777 << 16  # a symbolic link to /etc/passwd
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(SessionFileError, match="symbolic link"):
        read_session_file(path)


def test_a_zip_bomb_member_is_refused_from_its_declared_size(valid, tmp_path):
    path = _rewrite(
        valid,
        tmp_path / "bomb.attnscope-session",
        extra={"tensors/x.bin": bytes(MAX_MEMBER_BYTES + 1)},
    )
    assert path.stat().st_size < 1_000_000  # it compresses to almost nothing
    with pytest.raises(SessionFileError, match="over the"):
        read_session_file(path)


def test_a_member_that_inflates_past_its_declared_size_is_cut_off(valid, tmp_path):
    path = _rewrite(valid, tmp_path / "liar.attnscope-session")
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
    path = _rewrite(valid, tmp_path / "huge.attnscope-session", raw_manifest=raw)
    with pytest.raises(SessionFileError, match=r"manifest\.json declares"):
        read_session_file(path)


def test_deep_nesting_is_refused_without_recursing(valid, tmp_path):
    raw = b'{"format": "attnscope.session", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert json_depth(raw) == 100_001
    assert json_depth(b'{"a": "[[[[ in a string ]]]", "b": [1, {"c": 2}]}') == 3
    path = _rewrite(valid, tmp_path / "deep.attnscope-session", raw_manifest=raw)
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
    path = _rewrite(valid, tmp_path / "bad.attnscope-session", raw_manifest=raw)
    with pytest.raises(SessionFileError, match=message):
        read_session_file(path)


@pytest.mark.parametrize(
    "member", ["manifest.json", "tensors/attention.bin", "tensors/topk_ids.bin"]
)
def test_a_missing_member_is_named(valid, tmp_path, member):
    path = _rewrite(valid, tmp_path / "missing.attnscope-session", drop=(member,))
    with pytest.raises(SessionFileError, match=f"{member}' is missing"):
        read_session_file(path)


def test_a_tensor_of_the_wrong_length_or_values_is_refused(valid, tmp_path):
    with zipfile.ZipFile(valid) as archive:
        attention = archive.read("tensors/attention.bin")
    short = _rewrite(
        valid, tmp_path / "short.attnscope-session", extra={"tensors/attention.bin": attention[:-4]}
    )
    with pytest.raises(SessionFileError, match="needs"):
        read_session_file(short)
    nan = np.frombuffer(attention, dtype="<f4").copy()
    nan[0] = np.nan
    path = _rewrite(
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
