"""Single-file checkpoints: weights, model config, tokenizers and preprocessing together.

An AttnScope checkpoint is one safetensors file. Its tensors are the model's
state dict (a tensor registered under several names — shared or tied
embeddings — is stored once, under its first name); its ``__metadata__``
(string values only) holds:

=================  =========================================================
``format``         ``"attnscope"``
``format_version`` ``"1"``
``task``           ``"translation"`` | ``"captioning"``
``model_config``   JSON of ``ModelConfig.to_dict()``
``tgt_tokenizer``  base64 of the serialized sentencepiece model
``src_tokenizer``  the same for the source side (translation only)
``image_preprocess`` JSON of ``ImagePreprocess.to_dict()`` (captioning only)
``special_tokens`` JSON ``{"pad": 0, "unk": 1, "bos": 2, "eos": 3}``
``training_info``  JSON object, free-form (data, epochs, scores, ...)
``dtype``          storage dtype of float tensors: float32 | float16 | bfloat16
=================  =========================================================

Loading rebuilds the model with ``build_model(config)``, checks every stored
tensor's name, shape and dtype against it, loads strictly, converts to
float32 and puts the model in eval mode. Nothing is ever unpickled.

Plain PyTorch state dicts (``.pt``, ``.pth``, ``.ckpt``, ``.bin``) also load,
read only with ``torch.load(weights_only=True)`` (a pickle that would run code
is refused), together with a JSON file next to them (``<name>.json``, or
``config_path=``)::

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
import errno
import itertools
import json
import logging
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from attnscope.engine.devices import pick_device
from attnscope.engine.errors import CheckpointError, TokenizerError
from attnscope.engine.images import ImagePreprocess
from attnscope.engine.tokenizers import SPECIALS, SpecialTokens, TextTokenizer
from attnscope.models.config import TASKS, ModelConfig
from attnscope.models.registry import build_model

logger = logging.getLogger(__name__)

FORMAT_NAME = "attnscope"
FORMAT_VERSION = "1"
SUPPORTED_VERSIONS = ("1",)
MAX_HEADER_BYTES = 100 * 1024 * 1024
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
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
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, on its device) and what it needs."""

    path: Path
    config: ModelConfig
    model: nn.Module
    tgt_tokenizer: TextTokenizer
    src_tokenizer: TextTokenizer | None = None
    image_preprocess: ImagePreprocess | None = None
    specials: SpecialTokens = SPECIALS
    info: dict[str, Any] = field(default_factory=dict)
    num_parameters: int = 0

    @property
    def task(self) -> str:
        return self.config.task


class _Entry(NamedTuple):
    """One stored tensor as described by a header (no data read)."""

    shape: tuple[int, ...]
    dtype: torch.dtype


@dataclass(frozen=True)
class _Contents:
    """Everything but the weights, validated."""

    config: ModelConfig
    tgt_tokenizer: TextTokenizer
    src_tokenizer: TextTokenizer | None
    image_preprocess: ImagePreprocess | None
    info: dict[str, Any]
    storage_dtype: str
    format_version: str


# -- files ------------------------------------------------------------------------------------
def _fail(path: Path | str, message: str) -> CheckpointError:
    return CheckpointError(f"{path}: {message}")


def _check_file(path: Path) -> int:
    """Size of ``path`` in bytes if it is a non-empty regular file."""
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail(path, "is a symlink loop (too many levels of symbolic links)") from exc
        if exc.errno == errno.ENOENT:
            raise _fail(path, "does not exist") from exc
        raise _fail(path, f"cannot be read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise _fail(path, "is a directory, not a checkpoint file")
    if not stat.S_ISREG(info.st_mode):
        raise _fail(path, "is not a regular file")
    if info.st_size == 0:
        raise _fail(path, "is empty (0 bytes)")
    return info.st_size


def _read_header(path: Path, size: int) -> tuple[dict[str, Any], dict[str, str], int]:
    """(tensor entries, metadata, data bytes) of a safetensors file; sizes checked first."""
    if size < 8:
        raise _fail(path, f"is truncated: {size} bytes, less than the 8-byte header length")
    with path.open("rb") as stream:
        (length,) = struct.unpack("<Q", stream.read(8))
        if length > MAX_HEADER_BYTES:
            raise _fail(
                path,
                f"declares a {length:,}-byte header, over the {MAX_HEADER_BYTES:,}-byte limit "
                "(corrupt, or not a safetensors checkpoint)",
            )
        if 8 + length > size:
            raise _fail(
                path, f"is truncated: its header claims {length:,} bytes, {size - 8:,} follow"
            )
        raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"header is not valid JSON ({exc}); not a safetensors file?") from exc
    if not isinstance(header, dict):
        raise _fail(path, f"header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "safetensors metadata must map strings to strings")
    return header, metadata, size - 8 - length


def _parse_entries(path: Path, header: dict[str, Any], data_size: int) -> dict[str, _Entry]:
    """Check every tensor entry: dtype, shape, offsets within the data, no overlaps."""
    entries, spans = {}, []
    for name, raw in header.items():
        if not isinstance(raw, dict) or not {"dtype", "shape", "data_offsets"} <= set(raw):
            raise _fail(path, f"tensor {name!r} needs dtype, shape and data_offsets")
        dtype, shape, offsets = raw["dtype"], raw["shape"], raw["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise _fail(path, f"tensor {name!r} has unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        needed = SAFETENSORS_DTYPES[dtype][0] * _numel(shape)
        if end - begin != needed:
            raise _fail(
                path,
                f"tensor {name!r} data_offsets {offsets} span {end - begin:,} bytes, "
                f"its shape {shape} and dtype {dtype} need {needed:,}",
            )
        if end > data_size:
            raise _fail(
                path,
                f"tensor {name!r} is out of range: its data ends at byte {end:,} "
                f"but the file holds {data_size:,} data bytes (truncated or corrupt)",
            )
        entries[name] = _Entry(tuple(shape), SAFETENSORS_DTYPES[dtype][1])
        if end > begin:
            spans.append((begin, end, name))
    spans.sort()
    for (_, prev_end, prev), (begin, _, name) in itertools.pairwise(spans):
        if begin < prev_end:
            raise _fail(path, f"tensors {prev!r} and {name!r} overlap in the data section")
    return entries


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _numel(shape: list[int] | tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


# -- metadata ---------------------------------------------------------------------------------
def _json_field(path: Path, meta: Mapping[str, str], key: str, kind: type) -> Any:
    """Parse metadata ``key`` as JSON of type ``kind``; None when absent."""
    if key not in meta:
        return None
    try:
        value = json.loads(meta[key])
    except json.JSONDecodeError as exc:
        raise _fail(path, f"metadata {key!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, kind):
        wanted = "object" if kind is dict else kind.__name__
        raise _fail(path, f"metadata {key!r} must be a JSON {wanted}, got {value!r:.80}")
    return value


def _base64_field(path: Path, meta: Mapping[str, str], key: str) -> bytes | None:
    if key not in meta:
        return None
    try:
        return base64.b64decode(meta[key], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _fail(path, f"metadata {key!r} is not valid base64: {exc}") from exc


def _check_identity(path: Path, meta: Mapping[str, str]) -> None:
    kind = meta.get("format")
    if kind != FORMAT_NAME:
        found = f"its format is {kind!r}" if kind else "no 'format' in its metadata"
        raise _fail(path, f"is not an AttnScope checkpoint ({found}, expected {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise _fail(
            path,
            f"has unknown format_version {version!r}; this AttnScope reads "
            f"{', '.join(SUPPORTED_VERSIONS)} (a newer AttnScope may have written it)",
        )


def _contents_from_metadata(path: Path, meta: Mapping[str, str]) -> _Contents:
    _check_identity(path, meta)
    if "task" not in meta:
        raise _fail(path, "has no task in its metadata")
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
    return _build_contents(path, parsed, meta["format_version"])


def _build_contents(path: Path | str, parsed: dict[str, Any], version: str) -> _Contents:
    """Turn parsed fields into config, tokenizers and preprocessing, cross-checked."""
    if parsed["model_config"] is None:
        raise _fail(path, "has no model_config")
    try:
        config = ModelConfig.from_dict(parsed["model_config"])
    except (ValueError, TypeError) as exc:
        raise _fail(path, f"model_config is invalid: {exc}") from exc
    task = parsed["task"] if parsed["task"] is not None else config.task
    if task not in TASKS or task != config.task:
        raise _fail(path, f"task {task!r} is invalid or differs from the config's {config.task!r}")
    specials = parsed["special_tokens"]
    if specials is not None and specials != SPECIALS.to_dict():
        raise _fail(path, f"special_tokens {specials} differ from the required {SPECIALS}")
    if parsed["dtype"] not in STORAGE_DTYPES:
        raise _fail(path, f"storage dtype {parsed['dtype']!r} is not one of {list(STORAGE_DTYPES)}")
    tgt = _tokenizer(path, "tgt_tokenizer", parsed["tgt_tokenizer"], config.tgt_vocab)
    src = None
    if task == "translation":
        src = _tokenizer(path, "src_tokenizer", parsed["src_tokenizer"], config.src_vocab)
    preprocess = None
    if task == "captioning":
        try:
            preprocess = (
                ImagePreprocess.from_dict(parsed["image_preprocess"])
                if parsed["image_preprocess"] is not None
                else ImagePreprocess.from_model_config(config.image_encoder)
            )
        except ValueError as exc:
            raise _fail(path, f"image_preprocess is invalid: {exc}") from exc
    info = parsed["training_info"] or {}
    return _Contents(config, tgt, src, preprocess, info, parsed["dtype"], version)


def _tokenizer(path: Path | str, key: str, blob: bytes | None, vocab: int) -> TextTokenizer:
    if blob is None:
        raise _fail(path, f"has no {key}")
    try:
        tokenizer = TextTokenizer.from_bytes(blob)
    except TokenizerError as exc:
        raise _fail(path, f"{key} is not a usable sentencepiece model: {exc}") from exc
    if tokenizer.vocab_size != vocab:
        raise _fail(
            path, f"{key} has {tokenizer.vocab_size} pieces but the model config says {vocab}"
        )
    return tokenizer


# -- plain PyTorch files ------------------------------------------------------------------------
def _sidecar_blob(where: str, json_path: Path, key: str, value: Any) -> bytes | None:
    """A tokenizer given in the JSON sidecar as "base64:<data>" or a relative/absolute path."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(where, f"{key!r} must be a path or 'base64:<data>', got {value!r:.80}")
    if value.startswith("base64:"):
        try:
            return base64.b64decode(value[len("base64:") :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _fail(where, f"{key!r} is not valid base64: {exc}") from exc
    target = json_path.parent / value
    try:
        return target.read_bytes()
    except OSError as exc:
        raise _fail(where, f"{key!r} file {target} cannot be read: {exc.strerror}") from exc


def _contents_from_sidecar(path: Path, json_path: Path) -> _Contents:
    where = f"{path} (config {json_path})"
    try:
        doc = json.loads(json_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise _fail(
            path,
            f"a plain PyTorch state dict needs its JSON config ({json_path.name} next to it, "
            "or config_path=); see attnscope.engine.checkpoint",
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(where, f"the config is not readable JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _fail(where, f"the config must hold a JSON object, got {type(doc).__name__}")
    parsed: dict[str, Any] = {"dtype": "float32", "special_tokens": doc.get("special_tokens")}
    parsed["task"] = doc.get("task")
    for key in ("model_config", "image_preprocess", "training_info"):
        value = doc.get(key)
        if value is not None and not isinstance(value, dict):
            raise _fail(where, f"{key!r} must be a JSON object, got {value!r:.80}")
        parsed[key] = value
    for key in ("tgt_tokenizer", "src_tokenizer"):
        parsed[key] = _sidecar_blob(where, json_path, key, doc.get(key))
    return _build_contents(where, parsed, "pytorch")


def _torch_state_dict(path: Path) -> dict[str, Tensor]:
    """The file's tensors, loaded with weights_only=True (never executes a pickle)."""
    with path.open("rb") as stream:
        zipped = stream.read(4) == b"PK\x03\x04"
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except Exception as exc:  # hostile input may fail in any way; none of it may escape raw
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(path, f"was refused by the safe loader (weights_only): {first}") from exc
    if isinstance(data, dict):
        for key in ("state_dict", "model"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not data:
        raise _fail(path, f"holds no state dict of tensors (found {type(data).__name__})")
    bad = sorted(str(k) for k, v in data.items() if not isinstance(v, Tensor))
    if bad:
        raise _fail(path, f"entries that are not tensors: {_names(bad)}")
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


# -- tensors against the model --------------------------------------------------------------------
def _aliases(model: nn.Module) -> dict[str, str]:
    """Second and later names of tensors registered more than once -> their first name."""
    first: dict[int, str] = {}
    aliases = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        aliases.update({name: first[id(tensor)]} if id(tensor) in first else {})
        first.setdefault(id(tensor), name)
    return aliases


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _check_tensors(path: Path, stored: Mapping[str, _Entry], expected: Mapping[str, Tensor]):
    """Names, shapes and dtypes of the stored tensors must fit the freshly built model."""
    problems = []
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing:
        problems.append(f"missing tensors: {_names(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {_names(unexpected)}")
    for name in sorted(set(stored) & set(expected)):
        entry, want = stored[name], expected[name]
        if entry.shape != tuple(want.shape):
            problems.append(
                f"tensor {name} has shape {list(entry.shape)}, needs {list(want.shape)}"
            )
        elif want.is_floating_point() != entry.dtype.is_floating_point or (
            not want.is_floating_point() and entry.dtype != want.dtype
        ):
            problems.append(f"tensor {name} has dtype {entry.dtype}, needs {want.dtype}")
    if problems:
        raise _fail(path, "does not fit its model config: " + "; ".join(problems[:8]))


def _expected_tensors(model: nn.Module) -> dict[str, Tensor]:
    aliases = _aliases(model)
    return {k: v for k, v in model.state_dict().items() if k not in aliases}


def _fill_model(path: Path, model: nn.Module, tensors: dict[str, Tensor]) -> None:
    """Load ``tensors`` (canonical names) into ``model`` strictly, in the model's dtypes."""
    state = model.state_dict()
    full = {name: tensors[name].to(state[name].dtype) for name in tensors}
    for alias, name in _aliases(model).items():
        full[alias] = full[name]
    try:
        model.load_state_dict(full, strict=True)
    except RuntimeError as exc:
        raise _fail(path, f"weights do not load into the model: {exc}") from exc


def _count_parameters(entries: Mapping[str, _Entry]) -> int:
    """Parameters from stored shapes alone (BatchNorm statistics are buffers, not counted)."""
    return sum(_numel(e.shape) for n, e in entries.items() if not n.endswith(_BUFFER_SUFFIXES))


# -- public API ---------------------------------------------------------------------------------
class _Opened(NamedTuple):
    contents: _Contents
    entries: dict[str, _Entry]
    read_tensors: Callable[[], dict[str, Tensor]]
    container: str  # "safetensors" | "pytorch"
    size: int


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as stream:
            return {name: stream.get_tensor(name) for name in stream.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise _fail(path, f"tensors cannot be read: {exc}") from exc


def _open(path: Path, config_path: str | os.PathLike | None) -> _Opened:
    """Validate everything about ``path`` that needs no model; tensors are read lazily."""
    size = _check_file(path)
    if path.suffix.lower() in TORCH_SUFFIXES:
        json_path = Path(config_path) if config_path else path.with_suffix(".json")
        contents = _contents_from_sidecar(path, json_path)
        state = _torch_state_dict(path)
        entries = {k: _Entry(tuple(v.shape), v.dtype) for k, v in state.items()}
        return _Opened(contents, entries, lambda: state, "pytorch", size)
    header, meta, data_size = _read_header(path, size)
    entries = _parse_entries(path, header, data_size)
    contents = _contents_from_metadata(path, meta)
    return _Opened(contents, entries, lambda: _read_safetensors(path), "safetensors", size)


def _canonical(items: dict[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Rename second names of shared tensors (as a plain state dict has them) to first names."""
    out = dict(items)
    for alias, name in aliases.items():
        if alias in out:
            out.setdefault(name, out.pop(alias))
    return out


def load_checkpoint(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    config_path: str | os.PathLike | None = None,
) -> Checkpoint:
    """Open a checkpoint (safetensors, or .pt/.pth/.ckpt/.bin + JSON) ready to decode.

    The model is rebuilt from the stored config, filled strictly, converted to
    float32, moved to ``device`` ("cpu", "cuda:0", "auto", ...) and put in eval
    mode. Any problem raises CheckpointError naming the file and the fault.
    """
    path = Path(path)
    opened = _open(path, config_path)
    contents = opened.contents
    try:
        model = build_model(contents.config)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise _fail(path, f"model cannot be built from its config: {exc}") from exc
    aliases = _aliases(model) if opened.container == "pytorch" else {}
    _check_tensors(path, _canonical(opened.entries, aliases), _expected_tensors(model))
    _fill_model(path, model, _canonical(opened.read_tensors(), aliases))
    target = pick_device(device) if isinstance(device, str) else torch.device(device)
    model = model.to(target).eval()
    logger.info(
        "loaded %s (%s, %s storage) on %s",
        path,
        contents.config.task,
        contents.storage_dtype,
        target,
    )
    return Checkpoint(
        path=path,
        config=contents.config,
        model=model,
        tgt_tokenizer=contents.tgt_tokenizer,
        src_tokenizer=contents.src_tokenizer,
        image_preprocess=contents.image_preprocess,
        info=dict(contents.info),
        num_parameters=sum(p.numel() for p in model.parameters()),
    )


def _architecture(config: ModelConfig) -> dict[str, str]:
    if config.task == "captioning":
        image = config.image_encoder
        grid = "x".join(map(str, image.grid)) if image.grid else "natural"
        encoder = f"{image.backbone} trunk, grid {grid}, input {image.image_size[0]}x{image.image_size[1]}"
    else:
        text = config.text_encoder
        recurrent = f"{'bidirectional ' if text.bidirectional else ''}{text.cell.upper()}"
        kinds = {
            "rnn": recurrent,
            "cnn": f"CNN {text.kernel_sizes}",
            "conv_rnn": f"CNN -> {recurrent}",
        }
        encoder = f"{kinds[text.kind]}, {text.layers} layer(s), hidden {text.hidden}"
    dec = config.decoder
    decoder = f"{dec.cell.upper()}, {dec.layers} layer(s), hidden {dec.hidden}, {dec.placement}"
    return {"encoder": encoder, "attention": config.attention.kind, "decoder": decoder}


def _heads(config: ModelConfig) -> int:
    kind = config.attention.kind
    return 0 if kind == "none" else (config.attention.heads if kind == "multihead" else 1)


def read_checkpoint_info(
    path: str | os.PathLike, *, config_path: str | os.PathLike | None = None
) -> dict[str, Any]:
    """A JSON-ready description of a checkpoint (for ``attnscope info``), model not built."""
    path = Path(path)
    opened = _open(path, config_path)
    contents, config = opened.contents, opened.contents.config
    src = contents.src_tokenizer
    preprocess = contents.image_preprocess
    return {
        "path": str(path),
        "file_size": opened.size,
        "container": opened.container,
        "format_version": contents.format_version,
        "task": config.task,
        "architecture": _architecture(config),
        "attention": config.attention.kind,
        "heads": _heads(config),
        "num_parameters": _count_parameters(opened.entries),
        "num_tensors": len(opened.entries),
        "storage_dtype": contents.storage_dtype,
        "src_vocab": src.vocab_size if src is not None else None,
        "tgt_vocab": contents.tgt_tokenizer.vocab_size,
        "image_preprocess": preprocess.to_dict() if preprocess is not None else None,
        "special_tokens": SPECIALS.to_dict(),
        "training_info": contents.info,
        "model_config": json.loads(json.dumps(config.to_dict())),  # tuples -> lists
    }


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / torch.compile wrappers."""
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module) and not isinstance(
            getattr(model, "config", None), ModelConfig
        ):
            return _unwrap(inner)
    return model


def _metadata(
    config: ModelConfig,
    tgt: TextTokenizer,
    src: TextTokenizer | None,
    preprocess: ImagePreprocess | None,
    info: Mapping[str, Any] | None,
    dtype_name: str,
) -> dict[str, str]:
    """The string metadata of a checkpoint; mismatched inputs raise ValueError."""
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
        meta["src_tokenizer"] = base64.b64encode(src.to_bytes()).decode("ascii")
    else:
        preprocess = preprocess or ImagePreprocess.from_model_config(config.image_encoder)
        meta["image_preprocess"] = json.dumps(preprocess.to_dict())
    return meta


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    tgt_tokenizer: TextTokenizer,
    src_tokenizer: TextTokenizer | None = None,
    image_preprocess: ImagePreprocess | None = None,
    info: Mapping[str, Any] | None = None,
    storage_dtype: torch.dtype = torch.float32,
) -> Path:
    """Write ``model`` (config from ``model.config``) and its tokenizers as one safetensors file.

    Float tensors are stored as ``storage_dtype`` (float32, float16 or
    bfloat16; loading always restores float32). The file is written to a
    temporary name and renamed, so a crash never leaves a half-written file.
    """
    path = Path(path)
    if path.suffix.lower() in TORCH_SUFFIXES:
        raise ValueError(
            f"{path}: checkpoints are safetensors files; use .safetensors, not {path.suffix}"
        )
    model = _unwrap(model)
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise ValueError(f"model {type(model).__name__} has no ModelConfig in .config")
    names = {dtype: name for name, dtype in STORAGE_DTYPES.items()}
    if storage_dtype not in names:
        raise ValueError(
            f"storage dtype must be one of {list(STORAGE_DTYPES)}, got {storage_dtype}"
        )
    meta = _metadata(
        config, tgt_tokenizer, src_tokenizer, image_preprocess, info, names[storage_dtype]
    )
    tensors = {
        name: t.detach()
        .to(device="cpu", dtype=storage_dtype if t.is_floating_point() else t.dtype, copy=True)
        .contiguous()
        for name, t in _expected_tensors(model).items()
    }
    _write_atomically(path, tensors, meta)
    logger.info("saved %s (%d tensors, %s)", path, len(tensors), names[storage_dtype])
    return path


def _write_atomically(path: Path, tensors: dict[str, Tensor], meta: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, temp, metadata=meta)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
