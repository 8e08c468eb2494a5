"""Broken and hostile checkpoint files, derived from a valid one, for the window to refuse.

Each builder takes (folder, valid checkpoint path) and returns the file to
drop; ``PICKLE_MARKER`` is created only if a pickle payload ever runs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
from pathlib import Path

import torch
from fuzz_checkpoints import join_safetensors, split_safetensors
from fuzz_inputs import write_tiny_translator
from hostile_checkpoint_cases import CASES

PICKLE_MARKER = "pickle-payload-ran"


class _Payload:
    """Unpickling this creates a marker file: a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _edited(folder: Path, valid: Path, name: str, edit) -> Path:
    header, data = split_safetensors(valid.read_bytes())
    edit(header)
    path = folder / name
    path.write_bytes(join_safetensors(header, data))
    return path


def _tensors(header: dict) -> list[str]:
    return sorted(
        (k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"]
    )


def pickle_payload(folder: Path, valid: Path) -> Path:
    paths = write_tiny_translator(folder / "sidecar-source")
    path = folder / "evil.pt"
    torch.save({"decoder.output.weight": _Payload(folder / PICKLE_MARKER)}, path)
    shutil.copy(paths["pt"].with_suffix(".json"), path.with_suffix(".json"))
    return path


def huge_header(folder: Path, valid: Path) -> Path:
    path = folder / "huge-header.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    return path


def overlapping_offsets(folder: Path, valid: Path) -> Path:
    def edit(header):
        second = _tensors(header)[1]
        begin, end = header[second]["data_offsets"]
        header[second]["data_offsets"] = [begin - 4, end - 4]

    return _edited(folder, valid, "overlap.safetensors", edit)


def transposed_shape(folder: Path, valid: Path) -> Path:
    def edit(header):
        name = next(k for k in _tensors(header) if len(set(header[k]["shape"])) == 2)
        header[name]["shape"] = header[name]["shape"][::-1]  # same bytes, wrong shape

    return _edited(folder, valid, "wrong-shape.safetensors", edit)


def bad_metadata_json(folder: Path, valid: Path) -> Path:
    def edit(header):
        header["__metadata__"]["model_config"] = '{"embed_dim": 16,'

    return _edited(folder, valid, "bad-metadata.safetensors", edit)


def foreign_tokenizer(folder: Path, valid: Path) -> Path:
    def edit(header):
        blob = json.dumps({"model": {"type": "BPE", "vocab": {"a": 0}}}).encode()  # HF-style
        header["__metadata__"]["tgt_tokenizer"] = base64.b64encode(blob).decode()

    return _edited(folder, valid, "foreign-tokenizer.safetensors", edit)


def zero_bytes(folder: Path, valid: Path) -> Path:
    path = folder / "empty.safetensors"
    path.write_bytes(b"")
    return path


def truncated(folder: Path, valid: Path) -> Path:
    path = folder / "cut.safetensors"
    blob = valid.read_bytes()
    path.write_bytes(blob[: len(blob) * 3 // 4])
    return path


def directory(folder: Path, valid: Path) -> Path:
    path = folder / "folder.safetensors"
    path.mkdir()
    return path


def symlink_loop(folder: Path, valid: Path) -> Path:
    first, second = folder / "loop-a.safetensors", folder / "loop-b.safetensors"
    os.symlink(second, first)
    os.symlink(first, second)
    return first


# one case of each checkpoint-side class of issue 23 item 11 (benchmarks/hostile_checkpoint_cases.py)
CLASS_CASES = (
    "json_deep_training_info",
    "json_long_int_model_config",
    "sizes_100000_decoder_layers",
    "sizes_implied_parameters",
    "settings_beam_10e8",
    "tokenizer_rewrites_1000_bytes",
    "values_nan_weight",
    "pt_zero_stride_giant",
    "pt_tokenizer_is_a_fifo",
    "pickle_raw_bin",
)

HOSTILE = {
    **{name: CASES[name].build for name in CLASS_CASES},
    **{
        builder.__name__: builder
        for builder in (
            pickle_payload,
            huge_header,
            overlapping_offsets,
            transposed_shape,
            bad_metadata_json,
            foreign_tokenizer,
            zero_bytes,
            truncated,
            directory,
            symlink_loop,
        )
    },
}
