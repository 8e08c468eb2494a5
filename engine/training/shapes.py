"""Attention-sanity data: plain scenes of coloured shapes with exact captions.

Each scene holds 1–3 shapes (circle, square, triangle) in distinct
(colour, kind) pairs at random, non-overlapping places on a plain background,
and a template caption that names them and their spatial relation::

    a blue square
    a red circle above a blue square
    a green triangle left of a yellow circle and a red square below the yellow circle

Because every shape's pixel mask and the word index of its noun in the caption
are known exactly, a captioning model trained on these scenes can be checked
for *pointing accuracy*: when the decoder emits a shape's noun, does the peak
of its attention grid fall inside that shape? (``pointing.py``.)

Word indices count whitespace-separated words of the caption (``caption.split()``);
a sub-word tokenizer has to map them to its own pieces.

Everything is deterministic given a seed: scene ``i`` of ``generate_dataset(n, seed)``
is drawn from its own generator seeded with ``(seed, i)``, so it does not depend on ``n``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 38, 38),
    "green": (34, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (235, 195, 20),
    "purple": (135, 50, 175),
    "orange": (240, 125, 20),
}

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) in pixels, x1/y1 exclusive
_LAYOUT_REDRAWS = 50  # whole-layout retries before the config is declared infeasible
MaskPainter = Callable[[np.ndarray, np.ndarray, Box], np.ndarray]


def _circle_mask(ys: np.ndarray, xs: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    cx, cy, radius = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    return (xs + 0.5 - cx) ** 2 + (ys + 0.5 - cy) ** 2 <= radius**2


def _square_mask(ys: np.ndarray, xs: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def _triangle_mask(ys: np.ndarray, xs: np.ndarray, box: Box) -> np.ndarray:
    """Upright isosceles triangle: apex at the top centre, base along the bottom."""
    x0, y0, x1, y1 = box
    px, py = xs + 0.5, ys + 0.5
    depth = (py - y0) / (y1 - y0)  # 0 at the apex, 1 at the base
    half_width = depth * (x1 - x0) / 2
    inside_rows = (py >= y0) & (py <= y1)
    return inside_rows & (np.abs(px - (x0 + x1) / 2) <= half_width)


SHAPE_PAINTERS: dict[str, MaskPainter] = {
    "circle": _circle_mask,
    "square": _square_mask,
    "triangle": _triangle_mask,
}


@dataclass(frozen=True)
class ShapesConfig:
    """How scenes are drawn. Sizes are in pixels; shapes are drawn in square boxes."""

    image_size: int = 96
    min_shapes: int = 1
    max_shapes: int = 3
    shape_size: tuple[int, int] = (22, 34)  # (min, max) side of a shape's box
    gap: int = 4  # minimum empty pixels between two shapes' boxes
    background: tuple[int, int, int] = (238, 236, 230)
    kinds: tuple[str, ...] = tuple(SHAPE_PAINTERS)
    colours: tuple[str, ...] = tuple(COLOURS)
    max_attempts: int = 200  # placement retries per shape before the scene is redrawn

    def __post_init__(self) -> None:
        _check_known("shape kind", self.kinds, SHAPE_PAINTERS)
        _check_known("colour", self.colours, COLOURS)
        low, high = self.shape_size
        if not 1 <= self.min_shapes <= self.max_shapes <= 3:
            raise ValueError(
                f"need 1 <= min_shapes <= max_shapes <= 3, got {self.min_shapes}, {self.max_shapes}"
            )
        if not 4 <= low <= high <= self.image_size // 2:
            raise ValueError(
                f"shape_size {self.shape_size} must satisfy 4 <= min <= max <= "
                f"image_size/2 = {self.image_size // 2}"
            )
        if self.max_shapes > len(self.kinds) * len(self.colours):
            raise ValueError(f"cannot draw {self.max_shapes} distinct (colour, kind) shapes")


def _check_known(what: str, names: tuple[str, ...], registry: dict) -> None:
    unknown = [name for name in names if name not in registry]
    if unknown or not names:
        raise ValueError(f"unknown {what} {unknown or names!r}; valid: {', '.join(registry)}")


@dataclass(frozen=True)
class SceneShape:
    """One shape: what it is, where it is, and where its noun sits in the caption."""

    kind: str
    colour: str
    box: Box  # (x0, y0, x1, y1), x1/y1 exclusive
    noun_index: int  # index of the kind word in caption.split()
    mask: np.ndarray = field(compare=False, repr=False)  # (H, W) bool, True on the shape


@dataclass(frozen=True)
class Scene:
    """An RGB image (H, W, 3) uint8, its caption and its shapes (caption order)."""

    image: np.ndarray = field(compare=False, repr=False)
    caption: str
    shapes: tuple[SceneShape, ...]

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.image)  # (H, W, 3) uint8 -> RGB


def box_centre(box: Box) -> tuple[float, float]:
    """(x, y) centre of a box in pixels."""
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2


def relation(subject: Box, reference: Box) -> str:
    """Words for where ``subject`` lies relative to ``reference`` (dominant axis wins)."""
    (sx, sy), (rx, ry) = box_centre(subject), box_centre(reference)
    dx, dy = sx - rx, sy - ry  # image y grows downwards
    if abs(dy) >= abs(dx):
        return "above" if dy < 0 else "below"
    return "left of" if dx < 0 else "right of"


def _boxes_clear(box: Box, others: list[Box], gap: int) -> bool:
    x0, y0, x1, y1 = box
    return all(
        x1 + gap <= a0 or a1 + gap <= x0 or y1 + gap <= b0 or b1 + gap <= y0
        for a0, b0, a1, b1 in others
    )


def _place_boxes(rng: np.random.Generator, count: int, config: ShapesConfig) -> list[Box] | None:
    boxes: list[Box] = []
    low, high = config.shape_size
    for _ in range(count):
        for _attempt in range(config.max_attempts):
            side = int(rng.integers(low, high + 1))
            x0 = int(rng.integers(0, config.image_size - side + 1))
            y0 = int(rng.integers(0, config.image_size - side + 1))
            box = (x0, y0, x0 + side, y0 + side)
            if _boxes_clear(box, boxes, config.gap):
                boxes.append(box)
                break
        else:
            return None
    return boxes


def _caption_words(parts: list[tuple[str, str]], boxes: list[Box]) -> tuple[list[str], list[int]]:
    """Words of the template caption and the noun index of each shape."""
    words: list[str] = []
    nouns: list[int] = []

    def name(index: int) -> None:
        colour, kind = parts[index]
        words.extend(["an" if colour[0] in "aeiou" else "a", colour, kind])
        nouns.append(len(words) - 1)

    name(0)
    if len(parts) >= 2:
        words.extend(relation(boxes[0], boxes[1]).split())
        name(1)
    if len(parts) == 3:
        words.append("and")
        name(2)
        words.extend(relation(boxes[2], boxes[1]).split())
        words.extend(["the", *parts[1]])  # refers back to shape 1; not a new noun
    return words, nouns


def generate_scene(rng: np.random.Generator, config: ShapesConfig = ShapesConfig()) -> Scene:
    """Draw one scene with ``rng`` (same generator state -> same scene)."""
    count = int(rng.integers(config.min_shapes, config.max_shapes + 1))
    boxes = None
    for _ in range(_LAYOUT_REDRAWS):
        boxes = _place_boxes(rng, count, config)
        if boxes is not None:
            break
    else:
        raise ValueError(f"could not fit {count} shapes into a scene with {config}")
    pairs = [(colour, kind) for colour in config.colours for kind in config.kinds]
    chosen = rng.choice(len(pairs), size=count, replace=False)
    parts = [pairs[int(i)] for i in chosen]
    words, nouns = _caption_words(parts, boxes)

    size = config.image_size
    ys, xs = np.mgrid[0:size, 0:size]
    image = np.empty((size, size, 3), dtype=np.uint8)
    image[:] = config.background
    shapes = []
    for (colour, kind), box, noun in zip(parts, boxes, nouns, strict=True):
        mask = SHAPE_PAINTERS[kind](ys, xs, box)  # (H, W) bool
        image[mask] = COLOURS[colour]
        shapes.append(SceneShape(kind=kind, colour=colour, box=box, noun_index=noun, mask=mask))
    return Scene(image=image, caption=" ".join(words), shapes=tuple(shapes))


def generate_dataset(n: int, seed: int, config: ShapesConfig = ShapesConfig()) -> list[Scene]:
    """``n`` scenes; scene ``i`` depends only on ``(seed, i)`` and ``config``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [generate_scene(np.random.default_rng([seed, i]), config) for i in range(n)]


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
    out_dir: str | Path, n: int, seed: int, config: ShapesConfig = ShapesConfig()
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
    config: ShapesConfig = ShapesConfig(),
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attnscope.engine.training.shapes",
        description="write a shapes dataset, or measure a captioner's pointing accuracy",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write scenes for `attnscope train`")
    write.add_argument("out_dir")
    write.add_argument("--n", type=int, required=True, help="scenes (the train split with --dev-n)")
    write.add_argument("--seed", type=int, required=True)
    write.add_argument("--dev-n", type=int, default=0, help="also a dev split, with splits.tsv")
    write.add_argument("--dev-seed", type=int, default=None, help="default: --seed + 1")
    point = commands.add_parser("pointing", help="pointing accuracy on fresh scenes")
    point.add_argument("-c", "--checkpoint", required=True)
    point.add_argument("--n", type=int, default=150, help="fresh scenes")
    point.add_argument("--seed", type=int, required=True)
    point.add_argument("--device", default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``write OUT_DIR --n N --seed S [--dev-n M]`` | ``pointing -c CKPT ...``."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    if args.command == "write":
        if args.dev_n:
            dev_seed = args.seed + 1 if args.dev_seed is None else args.dev_seed
            write_splits(
                args.out_dir, {"train": (args.n, args.seed), "dev": (args.dev_n, dev_seed)}
            )
        else:
            write_dataset(args.out_dir, args.n, args.seed)
        return 0
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.training.pointing import measure_pointing

    model = load_inference_model(args.checkpoint, device=args.device)
    report = measure_pointing(model, generate_dataset(args.n, args.seed))
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
