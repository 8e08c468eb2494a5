"""Plain PyTorch state dicts as checkpoints: the weights file plus a JSON config beside it.

Files ending ``.pt``, ``.pth``, ``.ckpt`` or ``.bin`` are read only with
``torch.load(weights_only=True)`` (a pickle that would run code is refused),
together with a JSON file next to them (``<name>.json``, or ``config_path=``
of ``load_checkpoint``)::

    {"model_config": {...},                 # required: ModelConfig.to_dict()
     "tgt_tokenizer": "spm/target.model",   # required: path relative to the JSON,
     "src_tokenizer": "base64:CgsKBz...",   #   or "base64:" + the model (translation)
     "image_preprocess": {"size": [224, 224], "mean": [...], "std": [...]},  # optional
     "training_info": {...}}                # optional

The state dict is the file's top-level dict or its ``"state_dict"`` / ``"model"``
entry; a ``module.`` prefix (DistributedDataParallel) is removed. Every problem
raises ``CheckpointError`` naming the file and what is wrong.

Nothing in these files is trusted: only torch.save's zip or legacy container
reaches ``torch.load`` (a raw pickle is refused unread), the file is at most
``MAX_STATE_DICT_BYTES``, a legacy pickle may not declare sizes beyond the
file's, every tensor must own the bytes its shape claims (no zero strides),
and the JSON config and a tokenizer it names must be regular files of bounded
size (a FIFO or /dev/zero would hang or fill memory).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import pickle
import pickletools
import stat
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.bounded_json import JSONLimitError, loads_bounded
from attnscope.engine.checkpoint_format import (
    CheckpointContents,
    build_contents,
    checkpoint_error,
    listed,
)

logger = logging.getLogger(__name__)

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
MAX_STATE_DICT_BYTES = 8 * 1024**3  # a state dict file read with torch.load
MAX_SIDECAR_BYTES = 64 * 1024 * 1024  # the JSON config (tokenizers may be inlined in base64)
MAX_TOKENIZER_BYTES = 64 * 1024 * 1024  # a sentencepiece model file the config points at
_ZIP_MAGIC = b"PK\x03\x04"
_LEGACY_MAGIC = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)  # an int: safe


def _sidecar_blob(where: str, json_path: Path, key: str, value: Any) -> bytes | None:
    """A tokenizer given in the JSON sidecar as "base64:<data>" or a relative/absolute path."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise checkpoint_error(
            where, f"{key!r} must be a path or 'base64:<data>', got {value!r:.80}"
        )
    if value.startswith("base64:"):
        try:
            return base64.b64decode(value[len("base64:") :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise checkpoint_error(where, f"{key!r} is not valid base64: {exc}") from exc
    return read_regular_file(json_path.parent / value, MAX_TOKENIZER_BYTES, where, key)


def read_regular_file(target: Path, limit: int, where: str, what: str) -> bytes:
    """The bytes of ``target`` if it is a regular file of at most ``limit`` bytes.

    Opened without blocking and checked on the open descriptor, so a FIFO, a
    device (/dev/zero) or a socket is refused instead of hanging or filling memory.
    """
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise checkpoint_error(
            where, f"{what!r} file {target} cannot be read: {exc.strerror or exc}"
        ) from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise checkpoint_error(
            where, f"{what!r} file {target} is {_file_kind(info.st_mode)}, not a regular file"
        )
    with os.fdopen(fd, "rb") as stream:  # a directory's descriptor cannot become a stream
        if info.st_size > limit:
            raise checkpoint_error(
                where,
                f"{what!r} file {target} has {info.st_size:,} bytes; at most {limit:,} are read",
            )
        return stream.read(limit + 1)[:limit]


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def contents_from_sidecar(path: Path, json_path: Path) -> CheckpointContents:
    """Config, tokenizers and preprocessing of the state dict ``path`` from ``json_path``."""
    where = f"{path} (config {json_path})"
    if not os.path.lexists(json_path):
        raise checkpoint_error(
            path,
            f"a plain PyTorch state dict needs its JSON config ({json_path.name} next to it, "
            "or config_path=); see attnscope.engine.checkpoint_pytorch",
        )
    text = read_regular_file(json_path, MAX_SIDECAR_BYTES, where, "config")
    try:
        doc = loads_bounded(text.decode("utf-8"))
    except JSONLimitError as exc:
        raise checkpoint_error(where, f"the config is refused: its JSON {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise checkpoint_error(where, f"the config is not readable JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise checkpoint_error(
            where, f"the config must hold a JSON object, got {type(doc).__name__}"
        )
    parsed: dict[str, Any] = {"dtype": "float32", "special_tokens": doc.get("special_tokens")}
    parsed["task"] = doc.get("task")
    for key in ("model_config", "image_preprocess", "training_info"):
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            raise checkpoint_error(where, f"{key!r} must be a JSON object, got {value!r:.80}")
        parsed[key] = value
    for key in ("tgt_tokenizer", "src_tokenizer"):
        parsed[key] = _sidecar_blob(where, json_path, key, doc.get(key))
    return build_contents(where, parsed, "pytorch")


def torch_state_dict(path: Path) -> dict[str, Tensor]:
    """The file's tensors, loaded with weights_only=True (never executes a pickle).

    Only torch.save's two containers are handed to torch.load: a raw pickle is
    refused unread. Every tensor's storage is then checked against its shape.
    """
    zipped = _torch_container(path)
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol": the error says it
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # hostile input may fail in any way; none of it may escape raw
        raise checkpoint_error(
            path, f"was refused by the safe loader (weights_only): {_torch_reason(exc)}"
        ) from exc
    if isinstance(data, dict):
        for key in ("state_dict", "model"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data:
        raise checkpoint_error(
            path, f"holds no state dict of tensors (found {type(data).__name__})"
        )
    bad = sorted(str(k) for k, v in data.items() if not isinstance(v, Tensor))
    if bad:
        raise checkpoint_error(path, f"entries that are not tensors: {listed(bad)}")
    for name, tensor in data.items():
        _check_storage(path, name, tensor)
    if all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return _drop_shared(data)


def _torch_container(path: Path) -> bool:
    """True for torch.save's zip container, False for its legacy one; else CheckpointError."""
    size = path.stat().st_size
    if size > MAX_STATE_DICT_BYTES:
        raise checkpoint_error(
            path, f"has {size:,} bytes; a state dict may have at most {MAX_STATE_DICT_BYTES:,}"
        )
    with path.open("rb") as stream:
        head = stream.read(len(_LEGACY_MAGIC))
    if head.startswith(_ZIP_MAGIC):
        return True
    if head == _LEGACY_MAGIC:
        _check_legacy_numbers(path, size)
        return False
    raise checkpoint_error(path, f"is not a torch.save file ({describe_foreign(head)})")


def _check_legacy_numbers(path: Path, size: int) -> None:
    """No number in a legacy file's pickles may exceed the file's size.

    The legacy loader allocates each storage at the size its pickle declares
    before reading a byte of it, so 8 bytes can ask for 32 GB. Every honest
    number there (storage sizes in elements, shapes, strides, offsets) is at
    most the file's size. ``pickletools.genops`` only parses: nothing runs.
    """
    largest = _largest_legacy_number(path)
    if largest is not None and largest[1] > max(size, 1 << 16):  # small files: small numbers
        raise checkpoint_error(
            path,
            f"declares a size of {largest[1]:,} in its pickle ({largest[0]}), more than its "
            f"{size:,} bytes can hold",
        )


def _largest_legacy_number(path: Path) -> tuple[str, int] | None:
    """(opcode, value) of the largest integer in a legacy file's system info and state dict."""
    largest = None
    with path.open("rb") as stream:
        try:
            for index in range(4):  # magic number, protocol, system info, the state dict
                for opcode, arg, _ in pickletools.genops(stream):
                    number = index > 1 and isinstance(arg, int) and not isinstance(arg, bool)
                    if number and (largest is None or arg > largest[1]):
                        largest = (opcode.name, arg)
        except (ValueError, EOFError) as exc:  # not parseable: torch.load will say so
            logger.debug("%s: legacy pickle scan stopped: %s", path, exc)
    return largest


def describe_foreign(head: bytes) -> str:
    """What the first bytes of a file that is no checkpoint look like, and what to use."""
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        kind = "it is a raw Python pickle, which AttnScope never loads because it can run code"
    elif head.startswith(_ZIP_MAGIC):
        kind = "it is a zip archive, as torch.save writes; name it .pt"
    else:
        kind = "its first bytes are neither a torch.save file nor a safetensors header"
    return (
        f"{kind}; AttnScope reads .safetensors checkpoints, and torch.save state dicts "
        "(.pt, .pth, .ckpt, .bin) with a JSON config beside them"
    )


def _torch_reason(exc: Exception) -> str:
    """The line of torch.load's (often multi-paragraph) message that says what was wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = next((line for line in lines if "Unpickler error" in line), None)
    return (reason or (lines[0] if lines else type(exc).__name__))[:300]


def _check_storage(path: Path, name: str, tensor: Tensor) -> None:
    """A tensor must own the bytes its shape claims: no zero strides, no view past its storage.

    A zero-stride ("expanded") tensor of a few bytes can claim any shape, and
    copying it into a model would materialise gigabytes.
    """
    if tensor.numel() == 0:
        return
    if any(
        stride < 1 for stride, size in zip(tensor.stride(), tensor.shape, strict=True) if size > 1
    ):
        raise checkpoint_error(
            path,
            f"tensor {name} has shape {list(tensor.shape)} but strides {list(tensor.stride())}: "
            "a broadcast view that would expand when used",
        )
    last = tensor.storage_offset() + sum(
        (size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride(), strict=True)
    )
    needed = (last + 1) * tensor.element_size()
    held = tensor.untyped_storage().nbytes()
    if needed > held or tensor.numel() * tensor.element_size() > held:
        raise checkpoint_error(
            path,
            f"tensor {name} has shape {list(tensor.shape)}, needing {needed:,} bytes, "
            f"but its storage holds {held:,}",
        )


def _drop_shared(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keep the first name of tensors torch.save stored as one (tied/shared weights)."""
    seen, kept = set(), {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() == 0 or key not in seen:
            kept[name] = tensor
        seen.add(key)
    return kept
