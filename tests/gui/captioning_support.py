"""Tiny captioning checkpoints and awkward picture files for the captioning GUI tests.

The model has random weights (captions are meaningless) but everything else
is real: a resnet18 trunk pooled to a small grid, an LSTM decoder, a trained
sentencepiece target tokenizer and the image preprocessing, saved as one
safetensors checkpoint exactly as ``attnscope train`` would.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TINY_CAPTIONS = [
    "a dog runs on the grass .",
    "a man rides a red bike .",
    "two cats sleep on a sofa .",
    "a woman holds a cup of coffee .",
    "a rocket stands on the launch pad .",
    "a cat looks at the camera .",
]
IMAGE_SIZE = (64, 64)  # (h, w): small, so a test decode takes milliseconds


def make_tiny_captioning_checkpoint(
    path: str | Path,
    *,
    grid: tuple[int, int] = (3, 3),
    attention: str = "additive",
    heads: int = 1,
) -> Path:
    """A tiny random-weight captioner (resnet18 → ``grid`` cells → LSTM) saved at ``path``."""
    from attnscope.engine.checkpoint import save_checkpoint
    from attnscope.engine.images import ImagePreprocess
    from attnscope.engine.tokenizers import TextTokenizer
    from attnscope.models.config import (
        AttentionConfig,
        DecoderConfig,
        ImageEncoderConfig,
        ModelConfig,
    )
    from attnscope.models.registry import build_model

    tgt_tok = TextTokenizer.train(TINY_CAPTIONS * 20, vocab_size=60, model_type="bpe")
    config = ModelConfig(
        task="captioning",
        tgt_vocab=tgt_tok.vocab_size,
        embed_dim=16,
        image_encoder=ImageEncoderConfig(
            backbone="resnet18", grid=grid, projection=32, dropout=0.0, image_size=IMAGE_SIZE
        ),
        attention=AttentionConfig(kind=attention, heads=heads),
        decoder=DecoderConfig(cell="lstm", hidden=32, dropout=0.0),
    )
    torch.manual_seed(0)
    model = build_model(config)
    save_checkpoint(
        path,
        model=model,
        tgt_tokenizer=tgt_tok,
        image_preprocess=ImagePreprocess.from_model_config(config.image_encoder),
        info={"note": "tiny random-weight captioning test model"},
    )
    return Path(path)


def gradient_rgb(height: int = 48, width: int = 72) -> np.ndarray:
    """A deterministic colourful picture (H, W, 3) uint8."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    rgb[..., 1] = np.linspace(255, 0, height, dtype=np.uint8)[:, None]
    rgb[..., 2] = 90
    return rgb


def save_picture(path: str | Path, mode: str = "RGB", size: tuple[int, int] = (72, 48)) -> Path:
    """Write a small picture in Pillow ``mode`` (RGB, L, RGBA, CMYK) to ``path``."""
    image = Image.fromarray(gradient_rgb(size[1], size[0])).convert(mode)
    image.save(path)
    return Path(path)


def save_animated_gif(path: str | Path, frames: int = 3) -> Path:
    """A tiny animated GIF whose frames differ in colour."""
    pictures = [Image.new("RGB", (40, 30), (60 * i, 200 - 50 * i, 120)) for i in range(frames)]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=80, loop=0)
    return Path(path)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def save_bomb_png(path: str | Path, side: int = 20_000) -> Path:
    """A PNG whose header declares ``side``×``side`` pixels with almost no data behind it.

    Nothing of that size is ever allocated: a decoder that trusts the header
    before checking it would try to; a safe one refuses from the header.
    """
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB
    one_row = zlib.compress(b"\x00" * 16)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", one_row) + _png_chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return Path(path)


def save_corrupt_jpeg(path: str | Path) -> Path:
    """A JPEG cut off after its first few hundred bytes."""
    buffer = io.BytesIO()
    Image.fromarray(gradient_rgb(64, 64)).save(buffer, format="JPEG")
    Path(path).write_bytes(buffer.getvalue()[:300])
    return Path(path)
