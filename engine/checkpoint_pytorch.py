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
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.checkpoint_format import (
    CheckpointContents,
    build_contents,
    checkpoint_error,
    listed,
)

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")


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
    target = json_path.parent / value
    try:
        return target.read_bytes()
    except OSError as exc:
        raise checkpoint_error(
            where, f"{key!r} file {target} cannot be read: {exc.strerror}"
        ) from exc


def contents_from_sidecar(path: Path, json_path: Path) -> CheckpointContents:
    """Config, tokenizers and preprocessing of the state dict ``path`` from ``json_path``."""
    where = f"{path} (config {json_path})"
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise checkpoint_error(
            path,
            f"a plain PyTorch state dict needs its JSON config ({json_path.name} next to it, "
            "or config_path=); see attnscope.engine.checkpoint_pytorch",
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
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
    """The file's tensors, loaded with weights_only=True (never executes a pickle)."""
    with path.open("rb") as stream:
        zipped = stream.read(4) == b"PK\x03\x04"
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # hostile input may fail in any way; none of it may escape raw
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise checkpoint_error(
            path, f"was refused by the safe loader (weights_only): {first}"
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
    if all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return _drop_shared(data)


def _drop_shared(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keep the first name of tensors torch.save stored as one (tied/shared weights)."""
    seen, kept = set(), {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.numel() == 0 or key not in seen:
            kept[name] = tensor
        seen.add(key)
    return kept
