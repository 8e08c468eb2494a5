"""Shared builders for the checkpoint tests: tiny tokenizers, tiny models, raw safetensors."""

from __future__ import annotations

import functools
import json
import struct
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from attnscope.engine.checkpoint import save_checkpoint
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ImageEncoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model

SOURCE_LINES = ["der hund läuft im park", "die katze sitzt auf der matte", "hallo welt"] * 3
TARGET_LINES = ["the dog runs in the park", "the cat sits on the mat", "hello world"] * 3


@functools.cache
def tokenizer(side: str) -> TextTokenizer:
    """A tiny trained tokenizer for "src" or "tgt" (cached: training costs ~20 ms)."""
    lines = SOURCE_LINES if side == "src" else TARGET_LINES
    return TextTokenizer.train(lines, vocab_size=40, num_threads=1)


def translation_config(**changes) -> ModelConfig:
    src, tgt = tokenizer("src"), tokenizer("tgt")
    settings = {
        "task": "translation",
        "src_vocab": src.vocab_size,
        "tgt_vocab": tgt.vocab_size,
        "embed_dim": 8,
        "text_encoder": TextEncoderConfig(hidden=6, dropout=0.0),
        "attention": AttentionConfig(kind="additive"),
        "decoder": DecoderConfig(hidden=8, dropout=0.0),
    }
    settings.update(changes)
    return ModelConfig(**settings)


def captioning_config(**changes) -> ModelConfig:
    settings = {
        "task": "captioning",
        "tgt_vocab": tokenizer("tgt").vocab_size,
        "embed_dim": 8,
        "image_encoder": ImageEncoderConfig(
            backbone="mobilenet_v2", grid=(2, 2), projection=8, image_size=(32, 32), dropout=0.0
        ),
        "decoder": DecoderConfig(hidden=8, dropout=0.0),
    }
    settings.update(changes)
    return ModelConfig(**settings)


def translation_model(**changes) -> torch.nn.Module:
    return build_model(translation_config(**changes)).eval()


def captioning_model(**changes) -> torch.nn.Module:
    return build_model(captioning_config(**changes)).eval()


def save_translation(path: Path, model=None, **kwargs) -> Path:
    """A valid translation checkpoint at ``path``."""
    return save_checkpoint(
        path,
        model=model if model is not None else translation_model(),
        tgt_tokenizer=tokenizer("tgt"),
        src_tokenizer=tokenizer("src"),
        **kwargs,
    )


def translation_outputs(model, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Teacher-forced log-probs (B, T, V) and attention on fixed random input."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(4, model.config.src_vocab, (2, 5), generator=generator)
    tgt = torch.randint(4, model.config.tgt_vocab, (2, 4), generator=generator)
    with torch.no_grad():
        return model(src, torch.tensor([5, 3]), tgt)


def captioning_outputs(model, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(2, 3, 32, 32, generator=generator)
    tgt = torch.randint(4, model.config.tgt_vocab, (2, 4), generator=generator)
    with torch.no_grad():
        return model(images, tgt)


def read_parts(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a safetensors file, for rewriting variants of it."""
    with safe_open(str(path), framework="pt") as stream:
        return {k: stream.get_tensor(k) for k in stream.keys()}, dict(stream.metadata())  # noqa: SIM118


def rewrite(src: Path, dst: Path, *, tensors=None, metadata=None, drop=()) -> Path:
    """Copy ``src`` to ``dst`` with tensors/metadata entries replaced or dropped."""
    old_tensors, old_meta = read_parts(src)
    new_tensors = {**old_tensors, **(tensors or {})}
    new_meta = {**old_meta, **(metadata or {})}
    for key in drop:
        new_tensors.pop(key, None)
        new_meta.pop(key, None)
    save_file(new_tensors, str(dst), metadata=new_meta)
    return dst


def raw_safetensors(header: dict, data: bytes, *, declared_length: int | None = None) -> bytes:
    """Hand-made safetensors bytes; ``declared_length`` overrides the header length field."""
    encoded = json.dumps(header).encode()
    length = len(encoded) if declared_length is None else declared_length
    return struct.pack("<Q", length) + encoded + data


def raw_header(path: Path) -> tuple[dict, bytes]:
    """(header dict, data bytes) of a safetensors file, for byte-level tampering."""
    blob = path.read_bytes()
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + length]), blob[8 + length :]
