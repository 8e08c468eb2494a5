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
of its attention grid fall inside that shape? (``pointing.py``; ``dataset_files.py``
writes scenes as files ``attnscope train`` reads.)

Word indices count whitespace-separated words of the caption (``caption.split()``);
a sub-word tokenizer has to map them to its own pieces.

Everything is deterministic given a seed: scene ``i`` of ``generate_dataset(n, seed)``
is drawn from its own generator seeded with ``(seed, i)``, so it does not depend on ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

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
