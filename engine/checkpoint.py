"""Single-file checkpoints: save, load and describe a model with its tokenizers.

An AttnScope checkpoint is one safetensors file holding the weights, the
model config, the tokenizer(s) and the image preprocessing (the container and
its metadata are described and validated in ``attnscope.engine.checkpoint_format``).
Plain PyTorch state dicts (``.pt``, ``.pth``, ``.ckpt``, ``.bin``) with a JSON
config beside them load too (``attnscope.engine.checkpoint_pytorch``).

Loading rebuilds the model with ``build_model(config)``, checks every stored
tensor's name, shape and dtype against it, loads strictly, converts to
float32 and puts the model in eval mode. Nothing is ever unpickled. Every
problem raises ``CheckpointError`` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from attnscope.engine.checkpoint_format import (
    FORMAT_VERSION,
    STORAGE_DTYPES,
    CheckpointContents,
    TensorEntry,
    check_file,
    checkpoint_error,
    contents_from_metadata,
    encode_metadata,
    parse_entries,
    read_header,
    read_safetensors,
)
from attnscope.engine.checkpoint_pytorch import (
    TORCH_SUFFIXES,
    contents_from_sidecar,
    describe_foreign,
    torch_state_dict,
)
from attnscope.engine.checkpoint_tensors import (
    canonical,
    check_parameter_count,
    check_tensors,
    count_parameters,
    expected_tensors,
    fill_model,
    tensor_aliases,
)
from attnscope.engine.devices import pick_device
from attnscope.engine.images import ImagePreprocess
from attnscope.engine.input_limits import input_limit
from attnscope.engine.onmt.detect import looks_like_onmt_checkpoint
from attnscope.engine.tokenizers import SPECIALS, SpecialTokens, TextTokenizer
from attnscope.models.config import ModelConfig
from attnscope.models.registry import build_model

__all__ = [
    "FORMAT_VERSION",
    "STORAGE_DTYPES",
    "TORCH_SUFFIXES",
    "Checkpoint",
    "load_checkpoint",
    "read_checkpoint_info",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)


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


# -- opening, loading, describing -------------------------------------------------------------
class _Opened(NamedTuple):
    contents: CheckpointContents
    entries: dict[str, TensorEntry]
    read_tensors: Callable[[], dict[str, Tensor]]
    container: str  # "safetensors" | "pytorch"
    size: int


def _open(path: Path, config_path: str | os.PathLike | None) -> _Opened:
    """Validate everything about ``path`` that needs no model; tensors are read lazily."""
    size = check_file(path)
    if path.suffix.lower() in TORCH_SUFFIXES:
        json_path = Path(config_path) if config_path else path.with_suffix(".json")
        if not os.path.lexists(json_path) and looks_like_onmt_checkpoint(path):
            raise checkpoint_error(
                path,
                "is an OpenNMT-py checkpoint; convert it first: attnscope import-onmt "
                f"{path.name} -o {path.stem}.safetensors (see docs/opennmt.md)",
            )
        contents = contents_from_sidecar(path, json_path)
        state = torch_state_dict(path)
        entries = {k: TensorEntry(tuple(v.shape), v.dtype) for k, v in state.items()}
        check_parameter_count(path, contents.config, count_parameters(entries))
        return _Opened(contents, entries, lambda: state, "pytorch", size)
    _refuse_foreign(path)
    header, meta, data_size = read_header(path, size)
    entries = parse_entries(path, header, data_size)
    contents = contents_from_metadata(path, meta)
    check_parameter_count(path, contents.config, count_parameters(entries))
    return _Opened(contents, entries, lambda: read_safetensors(path), "safetensors", size)


def _refuse_foreign(path: Path) -> None:
    """A pickle or a zip under another suffix (.pkl, .model, ...) is named, never read further."""
    with path.open("rb") as stream:
        head = stream.read(16)
    if head[8:9] == b"{":  # a safetensors header starts there, whatever its length's bytes
        return
    if head[:1] == b"\x80" or head.startswith(b"PK\x03\x04"):
        raise checkpoint_error(path, f"is not a safetensors checkpoint: {describe_foreign(head)}")


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
        # Shapes first, on the meta device: a config declaring a huge model must
        # not allocate it before the stored tensors have been checked against it.
        with torch.device("meta"), _SkipParameterInit():
            skeleton = build_model(contents.config)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise checkpoint_error(path, f"model cannot be built from its config: {exc}") from exc
    aliases = tensor_aliases(skeleton) if opened.container == "pytorch" else {}
    check_tensors(path, canonical(opened.entries, aliases), expected_tensors(skeleton))
    model = _build_for_loading(contents.config)
    fill_model(path, model, canonical(opened.read_tensors(), aliases))
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


def _build_for_loading(config) -> nn.Module:
    """The model to fill from a checkpoint, without the random init the fill overwrites.

    The strict load that follows writes every entry of the state dict, so the
    nn.init fills are skipped (tens of ms at start-up). A model holding a
    non-persistent buffer (not in the state dict, so not loaded) is built
    normally.
    """
    with _SkipParameterInit():
        model = build_model(config)
    if any(module._non_persistent_buffers_set for module in model.modules()):
        model = build_model(config)
    return model


class _SkipParameterInit(TorchFunctionMode):
    """Inside: ``nn.init``'s random fills do nothing (for a meta-device skeleton).

    A skeleton only has shapes; running the fills on the meta device would go
    through ``torch._refs`` and import ``torch._dynamo`` (seconds at start-up).
    """

    SKIPPED = frozenset(
        {
            "uniform_",
            "normal_",
            "trunc_normal_",
            "constant_",
            "zero_",
            "zeros_",
            "ones_",
            "fill_",
            "xavier_uniform_",
            "xavier_normal_",
            "kaiming_uniform_",
            "kaiming_normal_",
            "orthogonal_",
        }
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in self.SKIPPED:
            return args[0] if args else kwargs["tensor"]  # in-place: the tensor itself
        return func(*args, **kwargs)


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
        "num_parameters": count_parameters(opened.entries),
        "num_tensors": len(opened.entries),
        "storage_dtype": contents.storage_dtype,
        "src_vocab": src.vocab_size if src is not None else None,
        "tgt_vocab": contents.tgt_tokenizer.vocab_size,
        "image_preprocess": preprocess.to_dict() if preprocess is not None else None,
        "input_limit": input_limit(config),
        "special_tokens": SPECIALS.to_dict(),
        "training_info": contents.info,
        "model_config": json.loads(json.dumps(config.to_dict())),  # tuples -> lists
    }


# -- saving -------------------------------------------------------------------------------------
def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel / torch.compile wrappers."""
    for attr in ("module", "_orig_mod"):
        inner = getattr(model, attr, None)
        if isinstance(inner, nn.Module) and not isinstance(
            getattr(model, "config", None), ModelConfig
        ):
            return _unwrap(inner)
    return model


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
    meta = encode_metadata(
        config, tgt_tokenizer, src_tokenizer, image_preprocess, info, names[storage_dtype]
    )
    tensors = {
        name: t.detach()
        .to(device="cpu", dtype=storage_dtype if t.is_floating_point() else t.dtype, copy=True)
        .contiguous()
        for name, t in expected_tensors(model).items()
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
