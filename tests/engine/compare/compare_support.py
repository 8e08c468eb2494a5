"""Tiny models and a tiny training run for the compare tests (made on the fly)."""

from __future__ import annotations

import random
from pathlib import Path

import torch

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

SOURCES = [
    "ein mann fährt fahrrad .",
    "zwei hunde spielen im schnee .",
    "eine frau liest ein buch im park .",
    "kinder spielen fußball auf der straße .",
]
TARGETS = [
    "a man rides a bike .",
    "two dogs play in the snow .",
    "a woman reads a book in the park .",
    "children play soccer on the street .",
]
LANGUAGES = {"source_language": "de", "target_language": "en"}


def tokenizer(lines: list[str], *, vocab: int, model_type: str) -> TextTokenizer:
    return TextTokenizer.train(lines * 10, vocab_size=vocab, model_type=model_type, num_threads=1)


def make_translator(
    path: Path,
    *,
    attention: str = "additive",
    heads: int = 1,
    vocab: int = 60,
    model_type: str = "bpe",
    seed: int = 0,
    info: dict | None = None,
) -> Path:
    """A random-weight de->en checkpoint; ``vocab`` / ``model_type`` pick its tokenizers
    (two models with different ones segment the same sentence differently)."""
    src = tokenizer(SOURCES, vocab=vocab, model_type=model_type)
    tgt = tokenizer(TARGETS, vocab=vocab, model_type=model_type)
    config = ModelConfig(
        src_vocab=src.vocab_size,
        tgt_vocab=tgt.vocab_size,
        embed_dim=16,
        text_encoder=TextEncoderConfig(hidden=16, dropout=0.0),
        attention=AttentionConfig(kind=attention, heads=heads),
        decoder=DecoderConfig(hidden=32, dropout=0.0),
    )
    torch.manual_seed(seed)
    return save_checkpoint(
        path,
        model=build_model(config),
        src_tokenizer=src,
        tgt_tokenizer=tgt,
        info=LANGUAGES if info is None else info,
    )


def make_captioner(path: Path, *, vocab: int = 40, model_type: str = "unigram") -> Path:
    """A random-weight captioner (a 2x2 grid over 32x32 pictures)."""
    from attnscope.engine.images import ImagePreprocess

    tgt = tokenizer(TARGETS, vocab=vocab, model_type=model_type)
    config = ModelConfig(
        task="captioning",
        tgt_vocab=tgt.vocab_size,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(
            backbone="mobilenet_v2", grid=(2, 2), projection=8, image_size=(32, 32), dropout=0.0
        ),
        decoder=DecoderConfig(hidden=8, dropout=0.0),
    )
    preprocess = ImagePreprocess(size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    return save_checkpoint(
        path, model=build_model(config), tgt_tokenizer=tgt, image_preprocess=preprocess
    )


def reverse_run_settings(folder: Path, *, epochs: int) -> dict:
    """[data]/[vocab]/[model]/[run] settings of a tiny reversal run (seconds on one CPU)."""
    rng = random.Random(0)
    symbols = "abcdefgh"
    paths = {}
    for split, count in (("train", 120), ("val", 16)):
        rows = [[rng.choice(symbols) for _ in range(rng.randint(3, 5))] for _ in range(count)]
        for side, lines in (("src", rows), ("tgt", [row[::-1] for row in rows])):
            path = folder / f"{split}.{side}"
            path.write_text("".join(" ".join(r) + "\n" for r in lines), encoding="utf-8")
            paths[f"{side}_{split}"] = str(path)
    return {
        "data": {**paths, "batch_size": 32, "src_lang": "de", "tgt_lang": "en"},
        "vocab": {"size": 24, "model_type": "bpe", "shared": True},
        "model": {
            "embed_dim": 16,
            "share_embeddings": True,
            "text_encoder": {"hidden": 16, "dropout": 0.0},
            "decoder": {"hidden": 32, "dropout": 0.0},
        },
        "optim": {"lr": 0.01, "label_smoothing": 0.0},
        "run": {
            "out_dir": str(folder / "run"),
            "epochs": epochs,
            "device": "cpu",
            "num_threads": 1,
            "progress_seconds": 3600,
            "save_every_minutes": 0,
            "choose_decoding": False,
        },
    }
