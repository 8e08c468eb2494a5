"""Hostile safetensors weights in a Hugging Face folder: a header that lies, a file cut
short, tensors the config does not expect or lacks. Each gets one line from the app's
loader; none leaves a parameter at random (transformers only warns about a missing
tensor and initialises it)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from attnscope.engine.errors import AttnScopeError
from attnscope.engine.inference import load_inference_model

from .test_hf_hostile import refused

DROPPED = "model.decoder.layers.1.fc1.weight"


@pytest.fixture
def folder(tmp_path, marian_dir):
    return shutil.copytree(marian_dir, tmp_path / "model")


def _rewrite_header(path, change) -> None:
    """Apply ``change`` to the safetensors header of ``path``, keeping the data."""
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    change({k: v for k, v in header.items() if k != "__metadata__"})
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + size :])


def _first_shape_times_1000(tensors) -> None:
    first = next(iter(tensors.values()))
    first["shape"] = [first["shape"][0] * 1000, *first["shape"][1:]]


def _all_f64(tensors) -> None:
    for tensor in tensors.values():
        tensor["dtype"] = "F64"


@pytest.mark.parametrize(
    "change", [_first_shape_times_1000, _all_f64], ids=["shape-past-data", "dtype"]
)
def test_a_header_that_lies_about_the_data(folder, change):
    _rewrite_header(folder / "model.safetensors", change)
    refused(folder, "the model cannot be loaded", "header")


@pytest.mark.parametrize(
    "cut",
    [lambda raw: raw[: len(raw) // 2], lambda raw: (100_000_001).to_bytes(8, "little") + raw[8:]],
)
def test_a_truncated_file_or_a_100_mb_header(folder, cut):
    path = folder / "model.safetensors"
    path.write_bytes(cut(path.read_bytes()))
    refused(folder, "the model cannot be loaded", "header")


def test_a_missing_tensor_is_refused_not_left_random(folder):
    tensors = load_file(folder / "model.safetensors")
    del tensors[DROPPED]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    message = refused(folder, "the weights do not fit the config", DROPPED)
    assert "random" in message


def test_a_tensor_of_another_shape_is_refused(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors[DROPPED] = torch.zeros(3, 3)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    refused(folder, "the model cannot be loaded", DROPPED)


def test_an_extra_tensor_is_ignored_and_the_rest_loads_exactly(folder):
    tensors = load_file(folder / "model.safetensors")
    save_file(tensors | {"junk": torch.zeros(4)}, folder / "model.safetensors")
    model = load_inference_model(folder, device="cpu")
    weight = dict(model.hf.model.named_parameters())[DROPPED]
    assert torch.equal(weight, tensors[DROPPED])


def test_a_refused_folder_leaves_the_process_able_to_load_a_good_one(folder, marian_dir):
    (folder / "model.safetensors").write_bytes(b"\x00" * 8)
    with pytest.raises(AttnScopeError):
        load_inference_model(folder, device="cpu")
    assert load_inference_model(marian_dir, device="cpu").summary().layers == 2
