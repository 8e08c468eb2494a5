"""Session files (engine/session_file.py, session_replay.py): a round trip is bit-exact, a
replay reproduces the decode, a changed checkpoint is refused and writing is atomic. No Qt.
(Broken and hostile files: test_session_file_hostile.py.)"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image
from session_file_support import SOURCE, decode, manifest_of, rewrite, saved

from attnscope.engine.decode_record import load_schema
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.interventions import AttentionEdit, ForceToken, ImageMask
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


@pytest.fixture(scope="module")
def model(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


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
    manifest = manifest_of(path)
    manifest["task"] = manifest["record"]["task"] = "captioning"
    manifest["input"] = {"kind": "image", "name": "red.png", "member": "input/red.png"}
    manifest["record"]["caption"] = manifest["record"].pop("translation")
    manifest["record"]["grid"] = [1, snapshot.attention.shape[2]]
    tampered = rewrite(
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
