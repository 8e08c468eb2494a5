"""A corpus of broken and hostile checkpoint files: each must give a CheckpointError naming
the problem (and never run code, never allocate what a header merely claims)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import struct

import pytest
import torch
from helpers_checkpoint import (
    raw_header,
    raw_safetensors,
    read_parts,
    rewrite,
    save_translation,
    tokenizer,
    translation_model,
)

from attnscope.engine.checkpoint import load_checkpoint, read_checkpoint_info
from attnscope.engine.checkpoint_format import MAX_HEADER_BYTES
from attnscope.engine.errors import CheckpointError

# torch warns that raw pickles use a newer protocol before refusing them; that is the point
pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")


@pytest.fixture
def valid(tmp_path):
    """A correct translation checkpoint to derive broken variants from."""
    return save_translation(tmp_path / "valid.safetensors")


def _expect(path, pattern, **kwargs):
    """Both load and info must refuse ``path`` with a message matching ``pattern``."""
    for reader in (load_checkpoint, read_checkpoint_info):
        with pytest.raises(CheckpointError, match=pattern) as caught:
            reader(path, **kwargs)
        assert str(path) in str(caught.value) or path.name in str(caught.value)


# -- code execution -------------------------------------------------------------------------------
class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for arbitrary code)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _write_sidecar(path):
    model = translation_model()
    doc = {
        "model_config": model.config.to_dict(),
        "tgt_tokenizer": "base64:" + base64.b64encode(tokenizer("tgt").to_bytes()).decode(),
        "src_tokenizer": "base64:" + base64.b64encode(tokenizer("src").to_bytes()).decode(),
    }
    path.with_suffix(".json").write_text(json.dumps(doc))


def test_the_payload_is_live_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()  # so the tests below really would notice execution


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".bin"])
@pytest.mark.parametrize("writer", ["torch_zip", "torch_legacy", "raw_pickle"])
def test_pickle_payloads_never_execute(tmp_path, suffix, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    payload = {"decoder.output.proj.weight": _Payload(marker)}
    if writer == "torch_zip":
        torch.save(payload, path)
    elif writer == "torch_legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(payload))
    _write_sidecar(path)
    refusal = "raw Python pickle" if writer == "raw_pickle" else "refused by the safe loader"
    _expect(path, refusal)
    assert not marker.exists()


def test_pickle_disguised_as_safetensors_is_not_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"w": _Payload(marker)}))
    _expect(path, r"is not a safetensors checkpoint: it is a raw Python pickle")
    assert not marker.exists()


def test_non_tensor_entries_in_a_state_dict_are_refused(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"weight": torch.ones(2), "note": "hello"}, path)
    _write_sidecar(path)
    _expect(path, r"entries that are not tensors: note")


# -- the file itself ------------------------------------------------------------------------------
def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.touch()
    _expect(path, r"is empty \(0 bytes\)")


def test_directory(tmp_path):
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    _expect(folder, "is a directory")


def test_symlink_loop(tmp_path):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    os.symlink(second, first)
    os.symlink(first, second)
    _expect(first, "symlink loop")


def test_missing_file_and_dangling_symlink(tmp_path):
    _expect(tmp_path / "nowhere.safetensors", "does not exist")
    link = tmp_path / "dangling.safetensors"
    os.symlink(tmp_path / "gone", link)
    _expect(link, "does not exist")


def test_shorter_than_the_length_field(tmp_path):
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(b"\x10\x00\x00")
    _expect(path, r"truncated: 3 bytes")


def test_truncated_data(valid, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(valid.read_bytes()[: valid.stat().st_size - 100])
    _expect(path, r"out of range.*truncated or corrupt")


# -- the header -----------------------------------------------------------------------------------
def test_huge_declared_header_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    _expect(path, rf"declares a {2**62:,}-byte header, over the {MAX_HEADER_BYTES:,}-byte limit")


def test_header_longer_than_the_file(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(raw_safetensors({}, b"", declared_length=5000))
    _expect(path, r"truncated: its header claims 5,000 bytes, 2 follow")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"{not json", "header is not valid JSON"),
        (b"\xff\xfe\x00garbage", "header is not valid JSON"),
        (b"[1, 2, 3]", "header must be a JSON object"),
    ],
)
def test_invalid_header_json(tmp_path, header, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    _expect(path, message)


def _two_floats(offsets_a, offsets_b, data_size):
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": offsets_a},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": offsets_b},
    }
    return raw_safetensors(header, bytes(data_size))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (_two_floats([0, 8], [4, 12], 12), "tensors 'a' and 'b' overlap"),
        (_two_floats([0, 8], [8, 16], 12), "tensor 'b' is out of range: its data ends at byte 16"),
        (_two_floats([0, 8], [8, 12], 12), r"tensor 'b' data_offsets \[8, 12\] span 4 bytes"),
        (_two_floats([0, 8], [8, -8], 16), "tensor 'b' has invalid data_offsets"),
        (
            raw_safetensors(
                {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4)
            ),
            "invalid shape",
        ),
        (
            raw_safetensors(
                {"a": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)
            ),
            "unsupported dtype 'C64'",
        ),
        (raw_safetensors({"a": [1, 2]}, b""), "tensor 'a' needs dtype, shape and data_offsets"),
        (
            raw_safetensors({"__metadata__": {"format": 1}}, b""),
            "metadata must map strings to strings",
        ),
    ],
)
def test_bad_tensor_entries(tmp_path, blob, message):
    path = tmp_path / "entries.safetensors"
    path.write_bytes(blob)
    _expect(path, message)


def test_gap_between_tensors_is_caught_by_safetensors_and_surfaced(valid, tmp_path):
    header, data = raw_header(valid)
    last = max(
        (k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0]
    )
    begin, end = header[last]["data_offsets"]
    header[last]["data_offsets"] = [begin + 4, end + 4]
    path = tmp_path / "gap.safetensors"
    path.write_bytes(raw_safetensors(header, data[:begin] + bytes(4) + data[begin:]))
    with pytest.raises(
        CheckpointError, match=r"gap\.safetensors: tensors cannot be read: .*offset"
    ):
        load_checkpoint(path)


# -- metadata -------------------------------------------------------------------------------------
def test_plain_safetensors_without_attnscope_metadata(tmp_path):
    path = tmp_path / "other.safetensors"
    path.write_bytes(
        raw_safetensors({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4))
    )
    _expect(path, r"is not an AttnScope checkpoint \(no 'format' in its metadata")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "diffusers"}, r"not an AttnScope checkpoint \(its format is 'diffusers'"),
        ({"format_version": "2"}, r"unknown format_version '2'; this AttnScope reads 1"),
        ({"task": "summarization"}, "task 'summarization' is invalid"),
        ({"task": "captioning"}, "differs from the config's 'translation'"),
        ({"model_config": "{not json"}, "metadata 'model_config' is not valid JSON"),
        ({"model_config": "[1, 2]"}, "metadata 'model_config' must be a JSON object"),
        ({"training_info": '"just text"'}, "metadata 'training_info' must be a JSON object"),
        ({"image_preprocess": "42"}, "metadata 'image_preprocess' must be a JSON object"),
        (
            {"special_tokens": '{"pad": 3, "unk": 1, "bos": 2, "eos": 0}'},
            "special_tokens .* differ",
        ),
        ({"dtype": "int4"}, "storage dtype 'int4'"),
        ({"tgt_tokenizer": "%%% not base64 %%%"}, "metadata 'tgt_tokenizer' is not valid base64"),
        (
            {"tgt_tokenizer": base64.b64encode(b"garbage").decode()},
            "tgt_tokenizer is not a usable sentencepiece model",
        ),
        ({"src_tokenizer": ""}, "src_tokenizer is not a usable sentencepiece model"),
    ],
)
def test_bad_metadata_values(valid, tmp_path, changes, message):
    path = rewrite(valid, tmp_path / "meta.safetensors", metadata=changes)
    _expect(path, message)


def test_model_config_with_unknown_keys_or_bad_values(valid, tmp_path):
    _, meta = read_parts(valid)
    config = json.loads(meta["model_config"])
    for key, value, message in [
        ("colour", "blue", "unknown ModelConfig keys: colour"),
        ("tgt_vocab", "many", "model_config is invalid"),
        ("attention", {"kind": "telepathy"}, "unknown attention kind 'telepathy'"),
    ]:
        broken = {**config, key: value}
        path = rewrite(
            valid, tmp_path / f"{key}.safetensors", metadata={"model_config": json.dumps(broken)}
        )
        _expect(path, message)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("format", "is not an AttnScope checkpoint \\(no 'format' in its metadata"),
        ("task", "has no task in its metadata"),
        ("model_config", "has no model_config"),
        ("tgt_tokenizer", "has no tgt_tokenizer"),
        ("src_tokenizer", "has no src_tokenizer"),
    ],
)
def test_missing_metadata_entries(valid, tmp_path, key, message):
    path = rewrite(valid, tmp_path / "less.safetensors", drop=[key])
    _expect(path, message)


def test_tokenizer_that_does_not_match_the_vocabulary(valid, tmp_path):
    other = base64.b64encode(tokenizer("src").to_bytes()).decode()
    _, meta = read_parts(valid)
    config = json.loads(meta["model_config"])
    config["tgt_vocab"] += 3
    path = rewrite(
        valid,
        tmp_path / "vocab.safetensors",
        metadata={"tgt_tokenizer": other, "model_config": json.dumps(config)},
    )
    _expect(path, r"tgt_tokenizer has \d+ pieces but the model config says \d+")


# -- tensors against the model --------------------------------------------------------------------
def test_missing_tensor_is_named(valid, tmp_path):
    path = rewrite(valid, tmp_path / "missing.safetensors", drop=["decoder.bridge.bias"])
    with pytest.raises(CheckpointError, match=r"missing tensors: decoder\.bridge\.bias"):
        load_checkpoint(path)


def test_extra_tensor_is_named(valid, tmp_path):
    path = rewrite(
        valid, tmp_path / "extra.safetensors", tensors={"decoder.secret": torch.zeros(3)}
    )
    with pytest.raises(CheckpointError, match=r"unexpected tensors: decoder\.secret"):
        load_checkpoint(path)


def test_misshaped_tensor_is_named(valid, tmp_path):
    path = rewrite(
        valid, tmp_path / "shape.safetensors", tensors={"decoder.bridge.bias": torch.zeros(5)}
    )
    with pytest.raises(
        CheckpointError, match=r"tensor decoder\.bridge\.bias has shape \[5\], needs \[8\]"
    ):
        load_checkpoint(path)


def test_integer_tensor_for_a_float_parameter(valid, tmp_path):
    tensors, _ = read_parts(valid)
    wrong = tensors["decoder.bridge.weight"].to(torch.int32)
    path = rewrite(valid, tmp_path / "dtype.safetensors", tensors={"decoder.bridge.weight": wrong})
    with pytest.raises(
        CheckpointError,
        match=r"tensor decoder\.bridge\.weight has dtype torch\.int32, needs torch\.float32",
    ):
        load_checkpoint(path)


def test_plain_state_dict_with_wrong_shapes(tmp_path):
    state = translation_model().state_dict()
    state["decoder.bridge.bias"] = torch.zeros(7)
    path = tmp_path / "wrong.pt"
    torch.save(state, path)
    _write_sidecar(path)
    with pytest.raises(
        CheckpointError,
        match=r"wrong\.pt: does not fit its model config: .*bridge\.bias has shape \[7\]",
    ):
        load_checkpoint(path)


def test_sidecar_json_problems(tmp_path):
    path = tmp_path / "m.pt"
    torch.save(translation_model().state_dict(), path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text("{broken")
    _expect(path, r"m\.pt \(config .*m\.json\): the config is not readable JSON")
    sidecar.write_text(json.dumps({"model_config": [1]}))
    _expect(path, r"m\.json\): 'model_config' must be a JSON object")
    sidecar.write_text(json.dumps({"tgt_tokenizer": 5}))
    _expect(path, r"m\.json\): 'tgt_tokenizer' must be a path or 'base64:<data>'")
