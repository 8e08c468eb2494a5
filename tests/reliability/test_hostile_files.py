"""Hostile checkpoints beyond tests/engine/test_hostile_checkpoints.py: memory stays bounded
before validation, and the real window turns every one into a message and keeps working."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc

import pytest
import torch
from fuzz_checkpoints import join_safetensors, split_safetensors
from hostile_files import HOSTILE, PICKLE_MARKER
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

import attnscope.engine.checkpoint as checkpoint_module
from attnscope.engine.checkpoint import load_checkpoint
from attnscope.engine.errors import CheckpointError

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
READ_BUDGET = 256 * 1024  # bytes of Python memory a refusal may take


def _peak_while_refusing(path) -> tuple[int, str]:
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("declared", "file_size", "message"),
    [
        (2**62, 64 * 1024 * 1024, "over the"),  # absurd length, 64 MB (sparse) behind it
        (100 * 1024 * 1024 + 1, 101 * 1024 * 1024, "over the"),  # one byte over the cap
        (50 * 1024 * 1024, 4096, "truncated"),  # under the cap, but the file is short
    ],
)
def test_a_declared_header_length_is_checked_before_anything_is_read(
    tmp_path, declared, file_size, message
):
    path = tmp_path / "declares.safetensors"
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", declared) + b"{")
        stream.truncate(file_size)  # sparse: costs no disk
    peak, text = _peak_while_refusing(path)
    assert message in text
    assert peak < READ_BUDGET, f"refusing took {peak:,} bytes: the header was read"


def test_a_tensor_declaring_a_terabyte_is_refused_from_the_header(
    tiny_translation_checkpoint, tmp_path
):
    header, data = split_safetensors(tiny_translation_checkpoint.read_bytes())
    name = next(k for k in header if k != "__metadata__")
    header[name] = {"dtype": "F32", "shape": [2**18, 2**20], "data_offsets": [0, 2**40]}
    path = tmp_path / "terabyte.safetensors"
    path.write_bytes(join_safetensors(header, data))
    peak, text = _peak_while_refusing(path)
    assert "out of range" in text
    # parsing the real header costs a few times its size; the claimed terabyte costs nothing
    assert peak < 8 * path.stat().st_size


def test_a_config_declaring_a_huge_model_is_refused_before_building_it(
    tiny_translation_checkpoint, tmp_path, monkeypatch
):
    """The parameters the config's sizes imply are compared with the stored tensors before
    any model (here ~3 GB) is built, even on the meta device; sizes past the config's
    bounds (hidden 30,000) are refused before that."""
    header, data = split_safetensors(tiny_translation_checkpoint.read_bytes())
    config = json.loads(header["__metadata__"]["model_config"])
    config["decoder"]["hidden"] = 16_000  # a GRU of ~3 GB; the stored tensors are 32 wide
    header["__metadata__"]["model_config"] = json.dumps(config)
    path = tmp_path / "huge-config.safetensors"
    path.write_bytes(join_safetensors(header, data))
    real_build = checkpoint_module.build_model
    built_on = []

    def guarded_build(model_config):
        built_on.append(torch.get_default_device().type)
        if built_on[-1] != "meta":  # refuse to allocate gigabytes on a shared machine
            raise AssertionError("the model was built for real before its shapes were checked")
        return real_build(model_config)

    monkeypatch.setattr(checkpoint_module, "build_model", guarded_build)
    with pytest.raises(CheckpointError, match="does not fit its model config: the config implies"):
        load_checkpoint(path)
    assert built_on == []
    config["decoder"]["hidden"] = 30_000
    header["__metadata__"]["model_config"] = json.dumps(config)
    path.write_bytes(join_safetensors(header, data))
    with pytest.raises(CheckpointError, match=r"decoder\.hidden must be an integer in 1\.\.16,384"):
        load_checkpoint(path)
    assert built_on == []


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_dropping_a_hostile_file_gives_a_message_and_the_app_still_translates(
    qtbot, qtlog, window, tiny_translation_checkpoint, tmp_path, kind
):
    load(qtbot, window, tiny_translation_checkpoint)
    bad = HOSTILE[kind](tmp_path, tiny_translation_checkpoint)
    _drop(window, bad)
    qtbot.waitUntil(lambda: bad.name in window.message_bar.text(), timeout=TIMEOUT)
    message = window.message_bar.text()
    if kind == "directory":  # a folder may be a model folder: it says it holds no checkpoint
        assert window.message_bar.level == "warning" and "no checkpoint" in message.lower()
    else:
        assert window.message_bar.level == "error"
        assert message.startswith(f"Could not open {bad.name}: ")
    assert "Unexpected error" not in message, message
    assert not (tmp_path / PICKLE_MARKER).exists()
    assert window.state.summary.path == str(tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.target_pieces and os.path.exists(window.state.summary.path)
    assert [r.message for r in qtlog.records if r.type != 0] == []  # no Qt warnings at all


@pytest.mark.parametrize("dtype", [[210], {"F32": 1}])
def test_a_tensor_dtype_that_is_not_a_string_is_refused(
    tiny_translation_checkpoint, tmp_path, dtype
):
    header, data = split_safetensors(tiny_translation_checkpoint.read_bytes())
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = dtype
    path = tmp_path / "odd-dtype.safetensors"
    path.write_bytes(join_safetensors(header, data))
    with pytest.raises(CheckpointError, match="dtype"):
        load_checkpoint(path)
