"""Pointing of attention and of each attribution method on the shapes captioner's scenes.

The shapes scenes (engine/shapes) know every shape's pixels, so every
explanation of a shape's noun can be checked the same way attention is
(engine/shapes/pointing.py): greedy-caption a fresh scene, find the step of
each shape's noun, and test whether the explanation's peak lies inside that
shape. Attention's peak is its highest grid cell (heads averaged); an
attribution's is its highest-scoring grid cell (the cell's pixels summed, or
for saliency the norm over them) and, at the finer grain, its highest pixel
(not for occlusion, which only hides whole cells).
The peak is the highest *signed* score: the place that most supports the
word. ``chance`` is what a peak dropped uniformly at random would score: the
mean share of the picture the named shapes cover.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from attnscope.engine.pieces import EOS_PIECE
from attnscope.engine.shapes.pointing import noun_steps, pointing_hit

if TYPE_CHECKING:
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import InferenceModel
    from attnscope.engine.shapes.scenes import Scene

ATTENTION = "attention"
# occlusion hides whole grid cells: its pixel map repeats each cell's drop, so its "peak
# pixel" is only the corner of its peak cell and is not tested
CELL_ONLY = frozenset({ATTENTION, "occlusion"})


@dataclass
class PointerCount:
    """Hits of one explanation over the named shapes; ``pixel_hits`` None for attention."""

    cell_hits: int = 0
    pixel_hits: int | None = None


@dataclass
class ExplainedPointing:
    """Per explanation, how often its peak at a shape's noun lies inside the shape."""

    scenes: int = 0
    shapes: int = 0  # in all scenes
    named: int = 0  # shapes the captions name: one trial per explanation
    covered: list[float] = field(default_factory=list)  # per named shape: its share of pixels
    counts: dict[str, PointerCount] = field(default_factory=dict)

    @property
    def chance(self) -> float:
        """The hit rate of a peak dropped uniformly at random on the picture."""
        return float(np.mean(self.covered)) if self.covered else 0.0

    def to_dict(self) -> dict:
        def share(hits: int | None) -> float | None:
            return None if hits is None or not self.named else hits / self.named

        return {
            "scenes": self.scenes,
            "shapes": self.shapes,
            "named": self.named,
            "chance": self.chance,
            "methods": {
                name: {
                    "cell_hits": count.cell_hits,
                    "cell_accuracy": share(count.cell_hits),
                    "pixel_hits": count.pixel_hits,
                    "pixel_accuracy": share(count.pixel_hits),
                }
                for name, count in self.counts.items()
            },
        }


def measure_explained_pointing(
    model: InferenceModel,
    scenes: Sequence[Scene],
    methods: Sequence[str],
    *,
    config: DecodeConfig | None = None,
    ig_steps: int = 32,
    on_scene: Callable[[], None] | None = None,
) -> ExplainedPointing:
    """Caption each scene greedily and test attention (when the model has it) and each
    attribution ``method`` at every named shape's noun step. ``on_scene`` is called
    after each scene (a progress bar)."""
    from attnscope.engine.decoding import DecodeConfig

    config = config or DecodeConfig(max_length=40, max_length_ratio=0.0, topk_alternatives=0)
    with_attention = model.model.num_heads > 0
    pointers = ([ATTENTION] if with_attention else []) + list(methods)
    report = ExplainedPointing(
        counts={
            name: PointerCount(pixel_hits=None if name in CELL_ONLY else 0) for name in pointers
        }
    )
    for scene in scenes:
        _score_scene(model, scene, methods, config, ig_steps, report, with_attention)
        if on_scene is not None:
            on_scene()
    return report


def _score_scene(model, scene, methods, config, ig_steps, report, with_attention) -> None:
    from attnscope.engine.explain import explain

    caption = model.caption(scene.image, config)
    report.scenes += 1
    report.shapes += len(scene.shapes)
    named = [
        (i, step) for i, step in enumerate(noun_steps(caption.pieces, scene)) if step is not None
    ]
    if not named:
        return
    report.named += len(named)
    report.covered.extend(float(scene.shapes[i].mask.mean()) for i, _ in named)
    if with_attention:
        count = report.counts[ATTENTION]
        for index, step in named:
            grid = caption.attention[step].mean(axis=0)  # (h, w), heads averaged
            count.cell_hits += pointing_hit(grid, scene, index)
    tokens = caption_ids(model, caption.pieces)
    steps = [step for _, step in named]
    for method in methods:
        result = explain(model, scene.image, tokens, method=method, steps=steps, ig_steps=ig_steps)
        row_of = {step: row for row, step in enumerate(result.steps)}
        count = report.counts[method]
        for index, step in named:
            cells = result.scores[row_of[step]].reshape(result.grid)  # (h, w)
            count.cell_hits += pointing_hit(cells, scene, index)
            if count.pixel_hits is not None and result.pixels is not None:
                # each model-input pixel is a cell of its own; pointing_hit maps it back
                count.pixel_hits += pointing_hit(result.pixels[row_of[step]], scene, index)


def caption_ids(model: InferenceModel, pieces: Sequence[str]) -> list[int]:
    """The target ids of a caption's pieces (eos included when shown)."""
    from attnscope.engine.decoding import EOS_ID

    return [EOS_ID if p == EOS_PIECE else model.tgt_tokenizer.piece_to_id(p) for p in pieces]
