"""Attention with layers in the decode record and in session files: (T, layers, heads, S)
written for every model (RNN: one layer), and version 1 files still open (one layer)."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import numpy as np
import pytest
from session_file_support import decode, manifest_of, rewrite, saved

from attnscope.engine.decode_record import (
    RECORD_VERSION,
    caption_record,
    load_schema,
    snapshot_record,
    translation_record,
    upgrade_record,
)
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.inference_results import Caption, Translation
from attnscope.engine.session_file import (
    SessionInput,
    read_session_file,
    session_from_snapshot,
    write_session_file,
)
from attnscope.engine.session_replay import checkpoint_ref, stored_snapshot

BEAM = DecodeConfig(strategy="beam", beam_size=2, max_length=5)


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(load_schema())


@pytest.fixture(scope="module")
def multihead(tiny_multihead_checkpoint):
    return load_inference_model(tiny_multihead_checkpoint, device="cpu")


def _as_two_layers(snapshot):
    """The 4-head RNN snapshot read as 2 layers of 2 heads (a Transformer's layout), with a
    source mixing matrix, as an HF model's snapshot carries them."""
    size = len(snapshot.source_pieces)
    mixing = np.full((size, size), 1 / size, dtype=np.float32)
    return dataclasses.replace(snapshot, num_layers=2, source_mixing=mixing)


def test_a_layered_snapshot_record(validator, multihead):
    snapshot = _as_two_layers(decode(multihead, BEAM).snapshot())
    row = snapshot_record(snapshot, settings=BEAM, include_tree=True)
    validator.validate(row)
    steps, size = len(snapshot.steps), len(snapshot.source_pieces)
    attention = np.asarray(row["attention"])  # (T, layers, heads, S)
    assert attention.shape == (steps, 2, 2, size)
    np.testing.assert_allclose(attention[:, 1, 0], snapshot.attention[:, 2], atol=1e-7)
    nodes = np.asarray(row["tree"]["attention"])
    assert nodes.shape == (len(snapshot.tree), 2, 2, size)
    assert np.asarray(row["source_mixing"]).shape == (size, size)
    plain = snapshot_record(decode(multihead, BEAM).snapshot())
    assert "source_mixing" not in plain and np.shape(plain["attention"])[1] == 1


def test_command_line_records_split_the_layers(validator):
    attention = np.random.default_rng(0).dirichlet(np.ones(3), size=(2, 6)).astype(np.float32)
    translation = Translation(
        source="a b",
        text="x",
        pieces=("▁x", "</s>"),
        score=-1.0,
        attention=attention,  # (T, 3 layers · 2 heads, S)
        source_pieces=("▁a", "▁b", "</s>"),
        num_layers=3,
    )
    row = translation_record(translation)
    validator.validate(row)
    assert np.shape(row["attention"]) == (2, 3, 2, 3)
    grids = attention.reshape(2, 6, 1, 3)
    caption = Caption(
        text="x", pieces=("▁x", "</s>"), score=0.0, grid=(1, 3), attention=grids, num_layers=2
    )
    row = caption_record(caption)
    validator.validate(row)
    assert np.shape(row["attention"]) == (2, 2, 3, 1, 3)  # (T, layers, heads, h, w)


def test_heads_that_do_not_split_into_the_layers_are_refused(multihead):
    snapshot = dataclasses.replace(decode(multihead, BEAM, steps=2).snapshot(), num_layers=3)
    with pytest.raises(ValueError, match="4 attention rows do not split into 3 layers"):
        snapshot_record(snapshot)


def test_a_version_1_record_upgrades_to_one_layer(validator, multihead):
    row = snapshot_record(decode(multihead, BEAM).snapshot(), include_tree=True)
    old = json.loads(json.dumps(row))
    old["version"] = 1
    old["attention"] = [step[0] for step in old["attention"]]  # (T, heads, S)
    old["tree"]["attention"] = [node[0] for node in old["tree"]["attention"]]
    upgraded = upgrade_record(old)
    assert upgraded["version"] == RECORD_VERSION
    assert upgraded == json.loads(json.dumps(row))
    validator.validate(upgraded)
    assert upgrade_record(row) is row  # already current
    assert upgrade_record([1]) == [1]  # not a record: left for the caller to refuse


# -- session files ----------------------------------------------------------------------------
def _layered_file(multihead, tmp_path):
    """A session file of a 2-layer decode with source mixing, and its snapshot."""
    snapshot = _as_two_layers(decode(multihead, BEAM).snapshot())
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(multihead.checkpoint.path),
        settings=BEAM,
        source=SessionInput(text=snapshot.source_text),
    )
    return write_session_file(tmp_path / "layers.attnscope-session", session), snapshot


def test_a_layered_session_round_trips(multihead, tmp_path):
    path, snapshot = _layered_file(multihead, tmp_path)
    manifest = manifest_of(path)
    assert manifest["version"] == 2 and manifest["decode"]["num_layers"] == 2
    steps, size = len(snapshot.steps), len(snapshot.source_pieces)
    tensors = manifest["decode"]["tensors"]
    assert tensors["attention"]["shape"] == [steps, 2, 2, size]
    assert tensors["source_mixing"]["shape"] == [size, size]
    session = read_session_file(path)
    assert session.decode.num_layers == 2
    assert session.decode.attention.tobytes() == snapshot.attention.tobytes()  # (T, 4, S)
    assert session.decode.source_mixing.tobytes() == snapshot.source_mixing.tobytes()
    shown = stored_snapshot(session)
    assert shown.num_layers == 2 and shown.attention.shape == snapshot.attention.shape
    np.testing.assert_array_equal(shown.source_mixing, snapshot.source_mixing)


def test_a_bad_source_mixing_is_refused(multihead, tmp_path):
    path, snapshot = _layered_file(multihead, tmp_path)
    size = len(snapshot.source_pieces)
    manifest = manifest_of(path)
    manifest["decode"]["tensors"]["source_mixing"]["shape"] = [size, size - 1]
    bad = rewrite(path, tmp_path / "shape.attnscope-session", manifest)
    with pytest.raises(SessionFileError, match="source_mixing"):
        read_session_file(bad)
    above_one = np.full((size, size), 2.0, dtype="<f4").tobytes()
    extra = {"tensors/source_mixing.bin": above_one}
    bad = rewrite(path, tmp_path / "range.attnscope-session", extra=extra)
    with pytest.raises(SessionFileError, match="source_mixing holds values outside"):
        read_session_file(bad)


def _version_1(path, tmp_path):
    """The session file at ``path`` as AttnScope wrote it before attention had layers."""
    manifest = manifest_of(path)
    manifest["version"] = 1
    part = manifest["decode"]
    del part["num_layers"]
    shape = part["tensors"]["attention"]["shape"]
    part["tensors"]["attention"]["shape"] = [shape[0], shape[1] * shape[2], shape[3]]
    record = manifest["record"]
    record["version"] = 1
    record["attention"] = [step[0] for step in record["attention"]]
    return rewrite(path, tmp_path / "old.attnscope-session", manifest)


def test_an_old_session_file_opens_as_one_layer(multihead, tmp_path):
    opened = decode(multihead, DecodeConfig(max_length=5))
    path = saved(multihead, tmp_path, opened)
    current = read_session_file(path)
    old = read_session_file(_version_1(path, tmp_path))
    assert old.decode.num_layers == 1 and old.decode.num_heads == 4
    assert old.decode.attention.tobytes() == current.decode.attention.tobytes()
    assert old.record == current.record  # the record upgraded to version 2
    assert stored_snapshot(old).attention.shape == opened.snapshot().attention.shape


def test_layers_in_a_session_file_are_checked(multihead, tmp_path):
    path = saved(multihead, tmp_path, decode(multihead, DecodeConfig(max_length=5)))
    for edit, message in (
        (lambda d: d.update(num_layers=3), "num_heads 4 is not 0..64 heads in each of 3 layers"),
        (lambda d: d.update(num_layers=0), "num_layers 0 is not 1..64"),
        (lambda d: d.pop("num_layers"), "num_layers None"),
        (lambda d: d["tensors"]["attention"].update(shape=[1, 4, 9]), "attention"),
    ):
        manifest = manifest_of(path)
        edit(manifest["decode"])
        bad = rewrite(path, tmp_path / "bad.attnscope-session", manifest)
        with pytest.raises(SessionFileError, match=message):
            read_session_file(bad)
