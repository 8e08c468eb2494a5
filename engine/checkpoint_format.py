"""The AttnScope checkpoint container: one safetensors file, validated before use.

Its tensors are the model's state dict (a tensor registered under several
names — shared or tied embeddings — is stored once, under its first name);
its ``__metadata__`` (string values only) holds:

=================  =========================================================
``format``         ``"attnscope"``
``format_version`` ``"1"``
``task``           ``"translation"`` | ``"captioning"``
``model_config``   JSON of ``ModelConfig.to_dict()``
``tgt_tokenizer``  base64 of the serialized sentencepiece model
``src_tokenizer``  the same for the source side (translation only); the text
                   ``"same-as-target"`` when both sides share one vocabulary
``image_preprocess`` JSON of ``ImagePreprocess.to_dict()`` (captioning only)
``special_tokens`` JSON ``{"pad": 0, "unk": 1, "bos": 2, "eos": 3}``
``training_info``  JSON object, free-form (data, epochs, scores, ...)
``dtype``          storage dtype of float tensors: float32 | float16 | bfloat16
=================  =========================================================

This module reads and checks everything but the model: the file itself, the
header's size, every tensor's dtype, shape and byte range (no overlaps, none
past the end), and the metadata (identity, version, config, tokenizers,
preprocessing). It also writes that metadata. Every problem raises
``CheckpointError`` naming the file and what is wrong; nothing is unpickled.
``attnscope.engine.checkpoint`` builds on it to save, load and describe.
"""

from __future__ import annotations

import base64
import binascii
import errno
import itertools
import json
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from torch import Tensor

from attnscope.engine.bounded_json import JSONLimitError, loads_bounded
from attnscope.engine.checkpoint_settings import check_recommended_decoding, checked_preprocess
from attnscope.engine.errors import CheckpointError, TokenizerError
from attnscope.engine.images import ImagePreprocess
from attnscope.engine.tokenizers import SPECIALS, TextTokenizer
from attnscope.models.config import TASKS, ModelConfig

FORMAT_NAME = "attnscope"
FORMAT_VERSION = "1"
SUPPORTED_VERSIONS = ("1",)
MAX_HEADER_BYTES = 100 * 1024 * 1024
MAX_TENSOR_DIMS = 8  # the bundled models use at most 4 (convolution weights)
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# safetensors dtype code -> (bytes per element, torch dtype)
SAFETENSORS_DTYPES: dict[str, tuple[int, torch.dtype]] = {
    "F64": (8, torch.float64),
    "F32": (4, torch.float32),
    "F16": (2, torch.float16),
    "BF16": (2, torch.bfloat16),
    "I64": (8, torch.int64),
    "I32": (4, torch.int32),
    "I16": (2, torch.int16),
    "I8": (1, torch.int8),
    "U8": (1, torch.uint8),
    "BOOL": (1, torch.bool),
}


class TensorEntry(NamedTuple):
    """One stored tensor as described by a header (no data read)."""

    shape: tuple[int, ...]
    dtype: torch.dtype


@dataclass(frozen=True)
class CheckpointContents:
    """Everything in a checkpoint but the weights, validated."""

    config: ModelConfig
    tgt_tokenizer: TextTokenizer
    src_tokenizer: TextTokenizer | None
    image_preprocess: ImagePreprocess | None
    info: dict[str, Any]
    storage_dtype: str
    format_version: str


def checkpoint_error(path: Path | str, message: str) -> CheckpointError:
    """The error for ``path``: its name first, then what is wrong with it."""
    return CheckpointError(f"{path}: {message}")


def listed(names: list[str], limit: int = 6) -> str:
    """The first ``limit`` names, comma-separated, with a count of the rest."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def numel(shape: list[int] | tuple[int, ...]) -> int:
    """Element count of ``shape`` in Python integers (no overflow on hostile shapes)."""
    count = 1
    for dim in shape:
        count *= dim
    return count


# -- the file and its header ------------------------------------------------------------------
def check_file(path: Path) -> int:
    """Size of ``path`` in bytes if it is a non-empty regular file."""
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise checkpoint_error(
                path, "is a symlink loop (too many levels of symbolic links)"
            ) from exc
        if exc.errno == errno.ENOENT:
            raise checkpoint_error(path, "does not exist") from exc
        raise checkpoint_error(path, f"cannot be read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise checkpoint_error(path, "is a directory, not a checkpoint file")
    if not stat.S_ISREG(info.st_mode):
        raise checkpoint_error(path, "is not a regular file")
    if info.st_size == 0:
        raise checkpoint_error(path, "is empty (0 bytes)")
    return info.st_size


def read_header(path: Path, size: int) -> tuple[dict[str, Any], dict[str, str], int]:
    """(tensor entries, metadata, data bytes) of a safetensors file; sizes checked first."""
    if size < 8:
        raise checkpoint_error(
            path, f"is truncated: {size} bytes, less than the 8-byte header length"
        )
    with path.open("rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        if length > MAX_HEADER_BYTES:
            raise checkpoint_error(
                path,
                f"declares a {length:,}-byte header, over the {MAX_HEADER_BYTES:,}-byte limit "
                "(corrupt, or not a safetensors checkpoint)",
            )
        if 8 + length > size:
            raise checkpoint_error(
                path, f"is truncated: its header claims {length:,} bytes, {size - 8:,} follow"
            )
        raw = stream.read(length)
    try:
        header = loads_bounded(raw.decode("utf-8"))
    except JSONLimitError as exc:
        raise checkpoint_error(path, f"header is refused: its JSON {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise checkpoint_error(
            path, f"header is not valid JSON ({exc}); not a safetensors file?"
        ) from exc
    if not isinstance(header, dict):
        raise checkpoint_error(path, f"header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise checkpoint_error(path, "safetensors metadata must map strings to strings")
    return header, metadata, size - 8 - length


def parse_entries(path: Path, header: dict[str, Any], data_size: int) -> dict[str, TensorEntry]:
    """Check every tensor entry: dtype, shape, offsets within the data, no overlaps."""
    entries, spans = {}, []
    for name, raw in header.items():
        begin, end = _check_entry(path, name, raw, data_size)
        entries[name] = TensorEntry(tuple(raw["shape"]), SAFETENSORS_DTYPES[raw["dtype"]][1])
        if end > begin:
            spans.append((begin, end, name))
    spans.sort()
    for (_, prev_end, prev), (begin, _, name) in itertools.pairwise(spans):
        if begin < prev_end:
            raise checkpoint_error(
                path, f"tensors {prev!r} and {name!r} overlap in the data section"
            )
    return entries


def _check_entry(path: Path, name: str, raw: Any, data_size: int) -> tuple[int, int]:
    """The (begin, end) data byte range of one header entry, after checking it all."""
    if not isinstance(raw, dict) or not {"dtype", "shape", "data_offsets"} <= set(raw):
        raise checkpoint_error(path, f"tensor {name!r} needs dtype, shape and data_offsets")
    dtype, shape, offsets = raw["dtype"], raw["shape"], raw["data_offsets"]
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
        raise checkpoint_error(path, f"tensor {name!r} has unsupported dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise checkpoint_error(path, f"tensor {name!r} has an invalid shape {shape!r:.80}")
    if len(shape) > MAX_TENSOR_DIMS:
        raise checkpoint_error(
            path, f"tensor {name!r} has {len(shape)} dimensions; at most {MAX_TENSOR_DIMS}"
        )
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise checkpoint_error(path, f"tensor {name!r} has invalid data_offsets {offsets!r:.80}")
    begin, end = offsets
    needed = SAFETENSORS_DTYPES[dtype][0] * numel(shape)
    if end - begin != needed:
        raise checkpoint_error(
            path,
            f"tensor {name!r} data_offsets {offsets} span {end - begin:,} bytes, "
            f"its shape {shape} and dtype {dtype} need {needed:,}",
        )
    if end > data_size:
        raise checkpoint_error(
            path,
            f"tensor {name!r} is out of range: its data ends at byte {end:,} "
            f"but the file holds {data_size:,} data bytes (truncated or corrupt)",
        )
    return begin, end


def _is_count(value: Any) -> bool:
    """A size or offset: a non-negative int that fits a file offset (int64)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63


def read_safetensors(path: Path) -> dict[str, Tensor]:
    """Every tensor of a (validated) safetensors file, on the CPU, by name."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as stream:
            return {name: stream.get_tensor(name) for name in stream.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise checkpoint_error(path, f"tensors cannot be read: {exc}") from exc


# -- metadata ---------------------------------------------------------------------------------
def _json_field(path: Path, meta: Mapping[str, str], key: str, kind: type) -> Any:
    """Parse metadata ``key`` as JSON of type ``kind``; None when absent."""
    if key not in meta:
        return None
    try:
        value = loads_bounded(meta[key])
    except JSONLimitError as exc:
        raise checkpoint_error(path, f"metadata {key!r} is refused: its JSON {exc}") from exc
    except json.JSONDecodeError as exc:
        raise checkpoint_error(path, f"metadata {key!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, kind):
        wanted = "object" if kind is dict else kind.__name__
        raise checkpoint_error(path, f"metadata {key!r} must be a JSON {wanted}, got {value!r:.80}")
    return value


SAME_AS_TARGET = "same-as-target"  # a joint vocabulary is stored once


def _base64_field(path: Path, meta: Mapping[str, str], key: str) -> bytes | None:
    if key not in meta:
        return None
    if key == "src_tokenizer" and meta[key] == SAME_AS_TARGET:
        return _base64_field(path, meta, "tgt_tokenizer")
    try:
        return base64.b64decode(meta[key], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise checkpoint_error(path, f"metadata {key!r} is not valid base64: {exc}") from exc


def _check_identity(path: Path, meta: Mapping[str, str]) -> None:
    kind = meta.get("format")
    if kind != FORMAT_NAME:
        found = f"its format is {kind!r}" if kind else "no 'format' in its metadata"
        raise checkpoint_error(
            path, f"is not an AttnScope checkpoint ({found}, expected {FORMAT_NAME!r})"
        )
    version = meta.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise checkpoint_error(
            path,
            f"has unknown format_version {version!r}; this AttnScope reads "
            f"{', '.join(SUPPORTED_VERSIONS)} (a newer AttnScope may have written it)",
        )


def contents_from_metadata(path: Path, meta: Mapping[str, str]) -> CheckpointContents:
    """Config, tokenizers and preprocessing from a safetensors file's string metadata."""
    _check_identity(path, meta)
    if "task" not in meta:
        raise checkpoint_error(path, "has no task in its metadata")
    parsed = {
        "task": meta.get("task"),
        "model_config": _json_field(path, meta, "model_config", dict),
        "tgt_tokenizer": _base64_field(path, meta, "tgt_tokenizer"),
        "src_tokenizer": _base64_field(path, meta, "src_tokenizer"),
        "image_preprocess": _json_field(path, meta, "image_preprocess", dict),
        "special_tokens": _json_field(path, meta, "special_tokens", dict),
        "training_info": _json_field(path, meta, "training_info", dict),
        "dtype": meta.get("dtype", "float32"),
    }
    return build_contents(path, parsed, meta["format_version"])


def build_contents(path: Path | str, parsed: dict[str, Any], version: str) -> CheckpointContents:
    """Turn parsed fields into config, tokenizers and preprocessing, cross-checked.

    ``parsed`` holds the metadata keys already decoded (JSON objects as dicts,
    tokenizers as bytes, None when absent); both containers end here.
    """
    if parsed["model_config"] is None:
        raise checkpoint_error(path, "has no model_config")
    try:
        config = ModelConfig.from_dict(parsed["model_config"])
    except (ValueError, TypeError) as exc:
        raise checkpoint_error(path, f"model_config is invalid: {exc}") from exc
    task = parsed["task"] if parsed["task"] is not None else config.task
    if task not in TASKS or task != config.task:
        raise checkpoint_error(
            path, f"task {task!r} is invalid or differs from the config's {config.task!r}"
        )
    specials = parsed["special_tokens"]
    if specials is not None and specials != SPECIALS.to_dict():
        raise checkpoint_error(
            path, f"special_tokens {specials} differ from the required {SPECIALS}"
        )
    if parsed["dtype"] not in STORAGE_DTYPES:
        raise checkpoint_error(
            path, f"storage dtype {parsed['dtype']!r} is not one of {list(STORAGE_DTYPES)}"
        )
    tgt = _tokenizer(path, "tgt_tokenizer", parsed["tgt_tokenizer"], config.tgt_vocab)
    src = None
    if task == "translation":
        src = _tokenizer(path, "src_tokenizer", parsed["src_tokenizer"], config.src_vocab)
    preprocess = (
        checked_preprocess(path, parsed["image_preprocess"], config)
        if task == "captioning"
        else None
    )
    info = parsed["training_info"] or {}
    check_recommended_decoding(path, info)
    return CheckpointContents(config, tgt, src, preprocess, info, parsed["dtype"], version)


def _tokenizer(path: Path | str, key: str, blob: bytes | None, vocab: int) -> TextTokenizer:
    if blob is None:
        raise checkpoint_error(path, f"has no {key}")
    try:
        tokenizer = TextTokenizer.from_bytes(blob)
    except TokenizerError as exc:
        raise checkpoint_error(path, f"{key} is not a usable sentencepiece model: {exc}") from exc
    if tokenizer.vocab_size != vocab:
        raise checkpoint_error(
            path, f"{key} has {tokenizer.vocab_size} pieces but the model config says {vocab}"
        )
    return tokenizer


def encode_metadata(
    config: ModelConfig,
    tgt: TextTokenizer,
    src: TextTokenizer | None,
    preprocess: ImagePreprocess | None,
    info: Mapping[str, Any] | None,
    dtype_name: str,
) -> dict[str, str]:
    """The string metadata of a checkpoint to write; mismatched inputs raise ValueError."""
    if tgt.vocab_size != config.tgt_vocab:
        raise ValueError(
            f"target tokenizer has {tgt.vocab_size} pieces, model tgt_vocab is {config.tgt_vocab}"
        )
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "task": config.task,
        "model_config": json.dumps(config.to_dict()),
        "tgt_tokenizer": base64.b64encode(tgt.to_bytes()).decode("ascii"),
        "special_tokens": json.dumps(SPECIALS.to_dict()),
        "training_info": json.dumps(dict(info or {}), default=str),
        "dtype": dtype_name,
    }
    if config.task == "translation":
        if src is None or src.vocab_size != config.src_vocab:
            found = "none" if src is None else f"{src.vocab_size} pieces"
            raise ValueError(
                f"translation needs a source tokenizer of {config.src_vocab} pieces, got {found}"
            )
        src_bytes = src.to_bytes()
        shared = src_bytes == tgt.to_bytes()
        meta["src_tokenizer"] = (
            SAME_AS_TARGET if shared else base64.b64encode(src_bytes).decode("ascii")
        )
    else:
        preprocess = preprocess or ImagePreprocess.from_model_config(config.image_encoder)
        meta["image_preprocess"] = json.dumps(preprocess.to_dict())
    return meta
