"""Read an OpenNMT-py checkpoint without running any of its pickle.

An OpenNMT-py 3.x ``.pt`` is a ``torch.save`` pickle of a plain dict::

    {"model": {name: Tensor}, "generator": {name: Tensor} | None,
     "vocab": {"src": [token, ...], "tgt": [...], "data_task": "seq2seq", ...},
     "opt": argparse.Namespace(...), "optim": {...optimizer state...}}

Its safetensors variant (``-save_format safetensors``) keeps the same dict minus the
weights in ``NAME.pt`` and writes every weight, the generator's included, to
``NAME.safetensors`` beside it.

Reading it, in order (nothing is unpickled before the first two pass):

1. the file is a bounded regular ``torch.save`` container (checkpoint_pytorch's checks);
2. ``torch.serialization.get_unsafe_globals_in_checkpoint`` lists the globals the pickle
   names beyond plain tensors and containers; any not in ``ALLOWED_GLOBALS`` (only
   ``argparse.Namespace``) is refused by name. OpenNMT-py 2.x checkpoints pickle their
   vocabulary as torchtext ``Field`` objects, so they are refused here, saying so;
3. ``torch.load(weights_only=True)`` with exactly that allow-list;
4. the result's shape is checked: the Namespace only as ``opt``, its values plain
   numbers, strings and lists of them, every weight a tensor owning its bytes.
"""

from __future__ import annotations

import argparse
import glob
import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.checkpoint_format import (
    check_file,
    checkpoint_error,
    listed,
    parse_entries,
    read_header,
    read_safetensors,
)
from attnscope.engine.checkpoint_pytorch import (
    _check_storage,
    _torch_container,
    _torch_reason,
)

logger = logging.getLogger(__name__)

# The one class an OpenNMT-py 3.x checkpoint pickles beyond tensors and containers.
ALLOWED_GLOBALS = {"argparse.Namespace": argparse.Namespace}
CHECKPOINT_KEYS = frozenset({"model", "generator", "vocab", "opt", "optim"})
MAX_OPTIONS = 2_000  # OpenNMT-py 3.5.1 records ~400
MAX_OPTION_ITEMS = 1_000  # a list-valued option (e.g. gpu_ranks, dropout per step)
MAX_TEXT = 10_000  # characters of one option value or vocabulary token
MAX_VOCAB_TOKENS = 1_000_000  # models.config.MAX_VOCAB
_V2_MARKERS = ("torchtext.", "onmt.", "collections.Counter")


@dataclass(frozen=True)
class OnmtCheckpoint:
    """What an OpenNMT-py checkpoint holds, read safely and checked for shape.

    options: the training options (``opt``) as plain Python values
    weights: every model tensor by OpenNMT-py name, the generator's as ``generator.*``
    src_vocab, tgt_vocab: tokens in OpenNMT-py's id order
    weights_file: the ``.safetensors`` the weights came from, or None (in the ``.pt``)
    """

    path: Path
    options: dict[str, Any]
    weights: dict[str, Tensor]
    src_vocab: list[str]
    tgt_vocab: list[str]
    decoder_start: str
    weights_file: Path | None = None


def unsafe_globals(path: Path) -> list[str]:
    """The globals ``path``'s pickle names beyond what ``weights_only`` allows by default.

    Only parses the pickle (no object is built); a legacy (non-zip) container, which
    this torch cannot list, is refused: OpenNMT-py has written zip files since torch 1.6.
    """
    if not _torch_container(path):
        raise checkpoint_error(
            path,
            "is a legacy (pre-zip) torch.save file; its globals cannot be listed without "
            "loading it, so it is not read. Re-save it with OpenNMT-py 3 and torch >= 1.6",
        )
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception as exc:  # a hostile or broken zip may fail in any way
        raise checkpoint_error(path, f"its pickle cannot be parsed: {_torch_reason(exc)}") from exc


def refuse_unlisted(path: Path, names: list[str]) -> None:
    """CheckpointError naming the globals outside the allow-list (v2 checkpoints said so)."""
    extra = [name for name in names if name not in ALLOWED_GLOBALS]
    if not extra:
        return
    if any(name.startswith(_V2_MARKERS) for name in extra):
        raise checkpoint_error(
            path,
            "looks like an OpenNMT-py 2.x checkpoint or another toolkit's: its pickle needs "
            f"{listed(extra)}, which only that code can build, and loading it would run it. "
            "AttnScope reads OpenNMT-py 3.x checkpoints (vocabulary stored as plain lists); "
            "convert it with OpenNMT-py's tools/convertv2_v3.py first",
        )
    raise checkpoint_error(
        path,
        f"its pickle needs {listed(extra)}; an OpenNMT-py checkpoint needs only "
        f"{', '.join(ALLOWED_GLOBALS)}, so it is not loaded (it could run code)",
    )


def read_onmt_checkpoint(path: str | Path) -> OnmtCheckpoint:
    """Load an OpenNMT-py 3.x checkpoint (``.pt``, and its ``.safetensors`` if it has one).

    Every problem raises CheckpointError naming the file and what is wrong.
    """
    path = Path(path)
    check_file(path)
    refuse_unlisted(path, unsafe_globals(path))
    try:
        with (
            warnings.catch_warnings(),
            torch.serialization.safe_globals(list(ALLOWED_GLOBALS.values())),
        ):
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # hostile input may fail in any way; none of it may escape raw
        raise checkpoint_error(
            path, f"was refused by the safe loader (weights_only): {_torch_reason(exc)}"
        ) from exc
    return _checked(path, data)


def _checked(path: Path, data: Any) -> OnmtCheckpoint:
    """The loaded dict checked for OpenNMT-py's layout, every value where it belongs."""
    if not isinstance(data, dict) or not {"vocab", "opt"} <= set(data):
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise checkpoint_error(
            path,
            f"is not an OpenNMT-py checkpoint: it needs 'opt' and 'vocab' entries, found "
            f"{keys if isinstance(keys, str) else listed(keys)}",
        )
    unexpected = sorted(str(k) for k in data if k not in CHECKPOINT_KEYS)
    if unexpected:
        raise checkpoint_error(path, f"has entries OpenNMT-py does not write: {listed(unexpected)}")
    if not isinstance(data["opt"], argparse.Namespace):
        raise checkpoint_error(
            path, f"'opt' must be the training options, got {type(data['opt']).__name__}"
        )
    options = _plain_options(path, vars(data["opt"]))
    _refuse_namespace_elsewhere(path, {k: v for k, v in data.items() if k != "opt"})
    src, tgt, start = _vocabularies(path, data["vocab"])
    weights_file = None
    if data.get("model") is None:  # the safetensors variant: weights beside the .pt
        weights_file = _weights_file(path)
        weights = _safetensors_weights(path, weights_file)
    else:
        weights = _tensor_dict(path, "model", data["model"])
        generator = data.get("generator")
        if generator is not None:
            weights |= {
                f"generator.{k}": v for k, v in _tensor_dict(path, "generator", generator).items()
            }
    return OnmtCheckpoint(path, options, weights, src, tgt, start, weights_file)


def _plain_options(path: Path, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The options as plain values: str, bool, int, finite float, None, and lists or
    str-keyed dicts of them (``data`` maps corpus names to their paths), bounded in size."""
    if len(raw) > MAX_OPTIONS:
        raise checkpoint_error(path, f"'opt' has {len(raw):,} options; at most {MAX_OPTIONS:,}")
    budget = [MAX_OPTION_ITEMS * 10]  # items across all options
    for name, value in raw.items():
        if not isinstance(name, str) or len(name) > 200:
            raise checkpoint_error(path, f"'opt' has a non-text option name {name!r:.60}")
        if not _plain(value, budget, depth=0):
            raise checkpoint_error(
                path,
                f"option {name!r} holds {type(value).__name__} {value!r:.80}; options must be "
                "numbers, text, or small lists and dicts of them",
            )
    return dict(raw)


def _plain(value: Any, budget: list[int], depth: int) -> bool:
    """True for a plain scalar, or a list/tuple/set/str-keyed dict of plain values within
    ``budget`` items overall and 4 levels of nesting."""
    budget[0] -= 1
    if budget[0] < 0 or depth > 4:
        return False
    if isinstance(value, list | tuple | set | frozenset):
        return len(value) <= MAX_OPTION_ITEMS and all(_plain(v, budget, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= MAX_OPTION_ITEMS and all(
            isinstance(k, str) and len(k) <= MAX_TEXT and _plain(v, budget, depth + 1)
            for k, v in value.items()
        )
    return _plain_scalar(value)


def _plain_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    return value is None or isinstance(value, bool | int)


def _refuse_namespace_elsewhere(path: Path, data: Any, where: str = "", depth: int = 0) -> None:
    """The allowed Namespace may stand only as 'opt': anywhere else it is a payload's shell."""
    if depth > 12:
        raise checkpoint_error(path, f"nests deeper than OpenNMT-py does (at {where or 'top'})")
    if isinstance(data, argparse.Namespace):
        raise checkpoint_error(
            path, f"holds an argparse.Namespace at {where}; OpenNMT-py stores one only as 'opt'"
        )
    if isinstance(data, dict):
        for key, value in data.items():
            _refuse_namespace_elsewhere(path, value, f"{where}/{key!s:.40}", depth + 1)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data[: MAX_VOCAB_TOKENS + 1]):
            if not isinstance(value, str | int | float | Tensor):  # a token list: skip fast
                _refuse_namespace_elsewhere(path, value, f"{where}[{index}]", depth + 1)


def _vocabularies(path: Path, vocab: Any) -> tuple[list[str], list[str], str]:
    """Source and target token lists (OpenNMT-py 3.x stores them as plain lists)."""
    if not isinstance(vocab, dict):
        raise checkpoint_error(
            path, f"'vocab' must be a dict of token lists, got {type(vocab).__name__}"
        )
    if vocab.get("src_feats"):
        raise checkpoint_error(
            path, "uses source word features (vocab 'src_feats'); AttnScope reads words only"
        )
    lists = []
    for side in ("src", "tgt"):
        tokens = vocab.get(side)
        if not isinstance(tokens, list) or not 4 <= len(tokens) <= MAX_VOCAB_TOKENS:
            raise checkpoint_error(
                path, f"vocab {side!r} must be a list of 4..{MAX_VOCAB_TOKENS:,} tokens"
            )
        if not all(isinstance(t, str) and 0 < len(t) <= MAX_TEXT for t in tokens):
            raise checkpoint_error(path, f"vocab {side!r} holds an empty, long or non-text token")
        if len(set(tokens)) != len(tokens):
            raise checkpoint_error(path, f"vocab {side!r} lists a token twice")
        lists.append(tokens)
    start = vocab.get("decoder_start_token", "<s>")
    if not isinstance(start, str):
        raise checkpoint_error(path, f"decoder_start_token must be text, got {start!r:.40}")
    return lists[0], lists[1], start


def _tensor_dict(path: Path, where: str, raw: Any) -> dict[str, Tensor]:
    if not isinstance(raw, dict) or not raw:
        raise checkpoint_error(
            path, f"{where!r} must be a dict of tensors, got {type(raw).__name__}"
        )
    bad = sorted(
        str(k) for k, v in raw.items() if not (isinstance(k, str) and isinstance(v, Tensor))
    )
    if bad:
        raise checkpoint_error(path, f"{where!r} has entries that are not tensors: {listed(bad)}")
    for name, tensor in raw.items():
        _check_storage(path, f"{where}.{name}", tensor)
    return dict(raw)


def _weights_file(path: Path) -> Path:
    """The safetensors file holding the weights of ``NAME.pt``: ``NAME.safetensors`` (what
    onmt_train writes) or its one shard ``NAME.*.safetensors`` (what onmt_translate reads)."""
    written = path.with_suffix(".safetensors")
    if written.exists():
        return written
    shards = sorted(path.parent.glob(f"{glob.escape(path.stem)}.*.safetensors"))[:2]
    if len(shards) > 1:
        raise checkpoint_error(
            path,
            f"has its weights in several shards ({shards[0].name}, {shards[1].name}, ...); "
            "AttnScope reads one file (shards of a tensor-parallel run are not merged)",
        )
    if not shards:
        raise checkpoint_error(
            path,
            f"holds no weights ('model' is empty), so they must be in {written.name} beside "
            "it (OpenNMT-py's -save_format safetensors), which is missing",
        )
    return shards[0]


def _safetensors_weights(path: Path, weights_file: Path) -> dict[str, Tensor]:
    """The weights of the safetensors variant, header checked before any byte is read."""
    size = check_file(weights_file)
    header, _, data_size = read_header(weights_file, size)
    parse_entries(weights_file, header, data_size)
    return read_safetensors(weights_file)
