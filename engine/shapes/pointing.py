"""Pointing accuracy: does a captioner's attention, when it names a shape, peak inside it?

For the generated shape scenes of ``scenes.py`` every shape's pixel mask is
known, so a captioning model's overlay can be checked: greedy-caption a scene,
find the decode step of each shape's noun (``noun_steps``), and test whether
the argmax cell of that step's attention grid has its centre inside the shape
(``pointing_hit``). ``measure_pointing`` counts this over many fresh scenes;
``python -m attnscope.engine.shapes pointing`` runs it on a checkpoint. It measures
a trained model (evaluation), so it lives here, not in engine/training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from attnscope.engine.pieces import WORD_START
from attnscope.engine.shapes.scenes import Scene

if TYPE_CHECKING:
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import InferenceModel


def pointing_hit(
    attention_grid: np.ndarray,
    scene: Scene,
    shape_index: int,
    image_size: int | tuple[int, int] | None = None,
) -> bool:
    """Does the attention peak fall inside shape ``shape_index``?

    ``attention_grid`` (h, w) covers the whole model input, whose (height, width)
    is ``image_size`` (an int for a square input; the scene's own size when None; a plain resize is assumed,
    as AttnScope's preprocessing does). The centre of the argmax cell is mapped
    to input pixels, then to scene pixels, and tested against the shape's mask.
    """
    grid = np.asarray(attention_grid)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"attention grid must be a non-empty (h, w) array, got shape {grid.shape}")
    if not 0 <= shape_index < len(scene.shapes):
        raise ValueError(f"shape_index {shape_index} out of range for {len(scene.shapes)} shapes")
    scene_h, scene_w = scene.image.shape[:2]
    if image_size is None:
        image_size = (scene_h, scene_w)
    input_h, input_w = (image_size, image_size) if isinstance(image_size, int) else image_size
    row, col = np.unravel_index(int(np.argmax(grid)), grid.shape)
    y_input = (row + 0.5) * input_h / grid.shape[0]  # cell centre, input pixels
    x_input = (col + 0.5) * input_w / grid.shape[1]
    y = min(int(y_input * scene_h / input_h), scene_h - 1)  # back to scene pixels
    x = min(int(x_input * scene_w / input_w), scene_w - 1)
    return bool(scene.shapes[shape_index].mask[y, x])


def caption_words(pieces: Sequence[str]) -> list[tuple[str, int]]:
    """(word, decode step of its first piece) for each word of a generated caption.

    ``pieces`` holds one sentencepiece piece per decode step; a piece starting
    with ``▁`` starts a word. Control pieces (``</s>``, ``<unk>``) belong to no word.
    """
    words: list[list] = []
    for step, piece in enumerate(pieces):
        if piece.startswith("<") and piece.endswith(">"):
            continue
        if piece.startswith(WORD_START) or not words:
            words.append([piece.lstrip(WORD_START), step])
        else:
            words[-1][0] += piece
    return [(word, step) for word, step in words]


def noun_steps(pieces: Sequence[str], scene: Scene) -> list[int | None]:
    """Per shape, the step at which a generated caption names it, or None.

    A shape is named where its colour word is directly followed by its kind
    word (the pair is unique within a scene); the first such mention counts
    (a later "the <colour> <kind>" only refers back) and its step is that of
    the noun's first piece.
    """
    words = caption_words(pieces)
    pairs = list(pairwise(words))
    return [
        next(
            (step for (before, _), (word, step) in pairs if (before, word) == (s.colour, s.kind)),
            None,
        )
        for s in scene.shapes
    ]


@dataclass(frozen=True)
class PointingReport:
    """How often the attention at a shape's noun peaks inside that shape."""

    scenes: int
    shapes: int  # shapes in all scenes
    named: int  # shapes the generated captions name (colour + kind)
    hits: int  # named shapes whose noun-step attention peak lies inside them

    @property
    def accuracy(self) -> float:
        """hits / shapes: a shape the caption never names counts as a miss."""
        return self.hits / self.shapes if self.shapes else 0.0

    @property
    def named_accuracy(self) -> float:
        """hits / named: how often the peak is right when the caption names the shape."""
        return self.hits / self.named if self.named else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "accuracy": self.accuracy, "named_accuracy": self.named_accuracy}


def measure_pointing(
    model: InferenceModel, scenes: Sequence[Scene], config: DecodeConfig | None = None
) -> PointingReport:
    """Greedy-caption each scene with ``model`` and check every shape's noun step.

    The attention of that step, (heads, h, w) averaged over heads, is tested with
    ``pointing_hit``; the scene is fed at its own size (preprocessing resizes it).
    """
    from attnscope.engine.decoding import DecodeConfig

    config = config or DecodeConfig(max_length=40, max_length_ratio=0.0, topk_alternatives=0)
    shapes = named = hits = 0
    for scene in scenes:
        caption = model.caption(scene.image, config)
        if caption.attention is None:
            raise ValueError("pointing needs a model with attention; this one has none")
        for index, step in enumerate(noun_steps(caption.pieces, scene)):
            shapes += 1
            if step is not None:
                named += 1
                hits += pointing_hit(caption.attention[step].mean(axis=0), scene, index)
    return PointingReport(scenes=len(scenes), shapes=shapes, named=named, hits=hits)
