"""Tiny synthetic corpora for the training tests (made on the fly, never read from disk)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

from attnscope.engine.training.config import TrainConfig, merge_settings

SYMBOLS = "abcdefghij"


def reverse_pairs(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Sequences of 3-6 symbols from a 10-symbol vocabulary and their reversal."""
    rng = random.Random(seed)
    sources, targets = [], []
    for _ in range(count):
        symbols = [rng.choice(SYMBOLS) for _ in range(rng.randint(3, 6))]
        sources.append(" ".join(symbols))
        targets.append(" ".join(reversed(symbols)))
    return sources, targets


def write_reverse_corpus(folder: Path, *, train: int, val: int, seed: int = 0) -> dict[str, str]:
    """train.src/.tgt and val.src/.tgt files; returns the [data] settings naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, count, split_seed in (("train", train, seed), ("val", val, seed + 1)):
        sources, targets = reverse_pairs(count, split_seed)
        for side, lines in (("src", sources), ("tgt", targets)):
            path = folder / f"{split}.{side}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            paths[f"{side}_{split}"] = str(path)
    return paths


def reverse_config(folder: Path, *, train: int = 200, val: int = 40, **overrides) -> TrainConfig:
    """A small, fast translation run on the reverse task (1 CPU thread)."""
    settings = {
        "data": {**write_reverse_corpus(folder / "data", train=train, val=val), "batch_size": 32},
        "vocab": {"size": 32, "model_type": "bpe", "shared": True},
        "model": {
            "embed_dim": 32,
            "share_embeddings": True,
            "text_encoder": {"hidden": 32, "dropout": 0.0},
            "decoder": {"hidden": 64, "dropout": 0.0},
        },
        "optim": {"lr": 0.005, "label_smoothing": 0.0},
        "run": {
            "out_dir": str(folder / "run"),
            "epochs": 2,
            "device": "cpu",
            "num_threads": 1,
            "progress_seconds": 3600,
            "save_every_minutes": 0,
        },
    }
    return TrainConfig.from_dict(merge_settings(settings, overrides))


COLOURS = {"red": (220, 30, 30), "green": (30, 170, 60), "blue": (40, 70, 220)}
SHAPES = ("square", "circle")


def write_caption_dataset(folder: Path, *, images: int = 12, size: int = 48) -> dict[str, str]:
    """Coloured shapes on white with captions "a red square" etc., a CSV and a split file."""
    image_dir = folder / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    rows, splits = [], []
    for index in range(images):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        picture = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(picture)
        box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
        (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLOURS[colour])
        name = f"img{index:03d}.png"
        picture.save(image_dir / name)
        rows += [(name, f"a {colour} {shape} ."), (name, f"A {shape} that is {colour}")]
        splits.append((name, "dev" if index % 4 == 0 else "train"))
    captions = folder / "captions.txt"
    with captions.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        writer.writerows(rows)
    split_file = folder / "splits.tsv"
    split_file.write_text("".join(f"{n}\t{s}\n" for n, s in splits), encoding="utf-8")
    return {"images": str(image_dir), "captions": str(captions), "split_file": str(split_file)}
