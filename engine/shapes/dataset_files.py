"""The shapes data set on disk: images, captions and exact annotations for ``attnscope train``.

``write_dataset`` writes one set of scenes, ``write_splits`` several (train, dev) in one
folder; both store every shape's mask as row-major run lengths (``encode_mask`` /
``decode_mask``) in ``shapes.json`` beside the Flickr8k-style ``captions.csv``.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from attnscope.engine.shapes.scenes import Scene, ShapesConfig, generate_dataset

logger = logging.getLogger(__name__)
DEFAULT_CONFIG = ShapesConfig()


def encode_mask(mask: np.ndarray) -> list[int]:
    """Run lengths of a bool mask in row-major order, starting with a False run."""
    flat = np.asarray(mask, dtype=bool).ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat.size and flat[0] else runs


def decode_mask(runs: list[int], shape: tuple[int, int]) -> np.ndarray:
    """Inverse of ``encode_mask``: (H, W) bool."""
    if sum(runs) != shape[0] * shape[1]:
        raise ValueError(f"mask runs cover {sum(runs)} pixels, expected {shape[0] * shape[1]}")
    values = np.arange(len(runs)) % 2 == 1  # runs alternate False, True, ...
    return np.repeat(values, runs).reshape(shape)


def _scene_record(name: str, scene: Scene) -> dict:
    return {
        "image": name,
        "caption": scene.caption,
        "shapes": [
            {
                "kind": shape.kind,
                "colour": shape.colour,
                "box": list(shape.box),
                "noun_index": shape.noun_index,
                "mask_runs": encode_mask(shape.mask),
            }
            for shape in scene.shapes
        ],
    }


def _write_images(images_dir: Path, scenes: list[Scene], prefix: str) -> list[dict]:
    """Save each scene as ``{prefix}_00000.png`` ...; return their ``shapes.json`` records."""
    images_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for index, scene in enumerate(scenes):
        name = f"{prefix}_{index:05d}.png"
        scene.to_pil().save(images_dir / name)
        records.append(_scene_record(name, scene))
    return records


def _write_captions(path: Path, records: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows([record["image"], record["caption"]] for record in records)


def write_dataset(
    out_dir: str | Path, n: int, seed: int, config: ShapesConfig = DEFAULT_CONFIG
) -> list[Scene]:
    """Write ``n`` scenes to ``out_dir`` and return them.

    Files: ``images/shapes_00000.png`` ... (lossless, so masks stay exact),
    ``captions.csv`` (header ``image,caption``, as Flickr8k's captions file;
    image names are relative to ``images/``), and ``shapes.json`` with the
    config, the seed, and per scene the caption and each shape's kind, colour,
    box ``[x0, y0, x1, y1]`` (exclusive ends), noun word index and mask as
    row-major run lengths (``decode_mask``).
    """
    out = Path(out_dir)
    scenes = generate_dataset(n, seed, config)
    records = _write_images(out / "images", scenes, "shapes")
    _write_captions(out / "captions.csv", records)
    annotations = {
        "seed": seed,
        "config": asdict(config),
        "image_size": [config.image_size, config.image_size],
        "scenes": records,
    }
    (out / "shapes.json").write_text(json.dumps(annotations), encoding="utf-8")
    logger.info("wrote %d shape scenes to %s", n, out)
    return scenes


def write_splits(
    out_dir: str | Path,
    splits: dict[str, tuple[int, int]],
    config: ShapesConfig = DEFAULT_CONFIG,
) -> dict[str, list[Scene]]:
    """Several splits, each ``name: (n, seed)``, in one folder ``attnscope train`` reads.

    Like ``write_dataset``, but images are named ``{split}_00000.png``, a
    ``splits.tsv`` (``image<TAB>split``, as Flickr8k's) says which split each
    image is in, and ``shapes.json`` holds ``{"config", "image_size",
    "splits": {name: {"seed", "scenes"}}}``.
    """
    out = Path(out_dir)
    written, all_records, per_split = {}, [], {}
    for name, (n, seed) in splits.items():
        written[name] = generate_dataset(n, seed, config)
        records = _write_images(out / "images", written[name], name)
        all_records.extend(records)
        per_split[name] = {"seed": seed, "scenes": records}
    _write_captions(out / "captions.csv", all_records)
    lines = [
        f"{record['image']}\t{name}\n" for name in per_split for record in per_split[name]["scenes"]
    ]
    (out / "splits.tsv").write_text("image\tsplit\n" + "".join(lines), encoding="utf-8")
    annotations = {
        "config": asdict(config),
        "image_size": [config.image_size, config.image_size],
        "splits": per_split,
    }
    (out / "shapes.json").write_text(json.dumps(annotations), encoding="utf-8")
    logger.info("wrote %s shape scenes to %s", {k: v[0] for k, v in splits.items()}, out)
    return written
