"""Does the attended region matter? Mask what a noun looked at, or a random region, and re-caption.

Issue 18's image what-if test on the shapes captioner: for fresh scenes of
``attnscope.engine.shapes`` (a seed the checkpoint never saw), caption each
scene greedily; for every shape the caption names (its colour word directly
followed by its kind word, ``noun_steps``), take the attention of the noun's
step (heads averaged) and

- **attended**: hide the cells holding ``--fraction`` of that attention's mass
  (``attended_mask``: the fewest highest cells reaching that share);
- **random**: hide as many cells drawn uniformly at random (``random_cells_mask``,
  seeded per scene and shape, so both fills see the same cells);

fill them (grey = the checkpoint's preprocessing mean, blur, noise), re-caption
and count the shape as **changed** when the new caption no longer names it by
its colour + kind (the noun disappeared, or it or its colour was replaced).
Each share is reported with its count and a 95 % Wilson interval.

    python -m benchmarks.mask_pointing --scenes 300 --seed 11 --fills grey,blur
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from attnscope.engine.image_masks import (
    DEFAULT_ATTENDED_FRACTION,
    MASK_FILLS,
    attended_cells,
    cells_to_pixels,
    mask_image,
    random_cells,
)
from attnscope.engine.shapes import Scene, generate_dataset, noun_steps

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel

CHECKPOINT_NAME = "shapes-attention.safetensors"  # bundled; found with engine.resources
DEFAULT_SEED = 11  # the shipped model used 1 (train), 2 (dev), 3 (pointing), 4, 5: 11 is fresh
WILSON_Z = 1.959964  # 95 % two-sided


def wilson_interval(successes: int, trials: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval of a binomial share (0, 0 for no trials)."""
    if trials == 0:
        return (0.0, 0.0)
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return (max(0.0, centre - half / denominator), min(1.0, centre + half / denominator))


@dataclass
class ChangeCount:
    """How many masked re-captions (trials) stopped naming the shape (changed)."""

    trials: int = 0
    changed: int = 0

    def add(self, changed: bool) -> None:
        self.trials += 1
        self.changed += int(changed)

    def to_dict(self) -> dict:
        low, high = wilson_interval(self.changed, self.trials)
        share = self.changed / self.trials if self.trials else 0.0
        return {"trials": self.trials, "changed": self.changed, "share": share, "ci95": [low, high]}


@dataclass
class MaskPointingReport:
    """Per fill, the attended and random counts; plus what the masks covered."""

    scenes: int
    shapes: int = 0
    named: int = 0  # shapes the original captions name: one trial each per fill and region
    cells_masked: list[int] = field(default_factory=list)  # per named shape
    overlap: list[float] = field(default_factory=list)  # random cells also in the attended set
    counts: dict[str, dict[str, ChangeCount]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "scenes": self.scenes,
            "shapes": self.shapes,
            "named": self.named,
            "mean_cells_masked": float(np.mean(self.cells_masked)) if self.cells_masked else 0.0,
            "mean_random_overlap": float(np.mean(self.overlap)) if self.overlap else 0.0,
            "fills": {
                fill: {region: count.to_dict() for region, count in regions.items()}
                for fill, regions in self.counts.items()
            },
        }


@dataclass(frozen=True)
class MaskSettings:
    """What the measurement masks and how."""

    fills: tuple[str, ...] = ("grey",)
    fraction: float = DEFAULT_ATTENDED_FRACTION
    seed: int = DEFAULT_SEED  # scenes, random cells and noise are all drawn from it


def _still_named(model: InferenceModel, picture: np.ndarray, scene: Scene, index: int) -> bool:
    """Does the caption of ``picture`` still name shape ``index`` of ``scene``?"""
    caption = model.caption(picture, _greedy())
    return noun_steps(caption.pieces, scene)[index] is not None


def _greedy():
    from attnscope.engine.decoding import DecodeConfig

    return DecodeConfig(max_length=40, max_length_ratio=0.0, topk_alternatives=0)


def _measure_scene(
    model: InferenceModel,
    scene: Scene,
    scene_index: int,
    settings: MaskSettings,
    report: MaskPointingReport,
) -> None:
    """Run every trial of one scene, adding to ``report``."""
    caption = model.caption(scene.image, _greedy())
    if caption.attention is None:
        raise ValueError("the mask test needs a model with attention; this one has none")
    mean = model.checkpoint.image_preprocess.mean
    report.shapes += len(scene.shapes)
    for index, step in enumerate(noun_steps(caption.pieces, scene)):
        if step is None:
            continue
        report.named += 1
        chosen = attended_cells(caption.attention[step], settings.fraction)  # (h, w)
        rng = np.random.default_rng((settings.seed, scene_index, index))
        control = random_cells(chosen.shape, int(chosen.sum()), rng)
        report.cells_masked.append(int(chosen.sum()))
        report.overlap.append(float((chosen & control).sum() / chosen.sum()))
        regions = {"attended": chosen, "random": control}
        for fill in settings.fills:
            counts = report.counts.setdefault(
                fill, {"attended": ChangeCount(), "random": ChangeCount()}
            )
            for region, cells in regions.items():
                mask = cells_to_pixels(cells, scene.image.shape)
                noise_seed = settings.seed * 1_000_003 + scene_index * 7 + index
                masked = mask_image(scene.image, mask, fill, seed=noise_seed, mean=mean)
                counts[region].add(not _still_named(model, masked, scene, index))


def measure_mask_pointing(
    model: InferenceModel, scenes: Sequence[Scene], settings: MaskSettings
) -> MaskPointingReport:
    """The attended-vs-random mask test over ``scenes`` (see the module docstring)."""
    unknown = [fill for fill in settings.fills if fill not in MASK_FILLS]
    if unknown or not settings.fills:
        raise ValueError(f"unknown fills {unknown or '(none)'}; valid: {', '.join(MASK_FILLS)}")
    report = MaskPointingReport(scenes=len(scenes))
    for scene_index, scene in enumerate(scenes):
        _measure_scene(model, scene, scene_index, settings, report)
    return report


def _format(result: dict) -> str:
    lines = [
        f"{result['scenes']} scenes, {result['named']} named shapes of {result['shapes']}; "
        f"{result['mean_cells_masked']:.2f} cells masked on average, random cells "
        f"{100 * result['mean_random_overlap']:.1f} % inside the attended set"
    ]
    for fill, regions in result["fills"].items():
        for region, count in regions.items():
            low, high = count["ci95"]
            lines.append(
                f"{fill:5} {region:8} changed {count['changed']:4} of {count['trials']:4} = "
                f"{100 * count['share']:5.1f} % (95 % CI {100 * low:.1f}–{100 * high:.1f} %)"
            )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mask_pointing", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "-c", "--checkpoint", help=f"default: the bundled {CHECKPOINT_NAME}", default=None
    )
    parser.add_argument("--scenes", type=int, default=300, help="fresh scenes (default 300)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="scenes, cells and noise")
    parser.add_argument("--fills", default="grey,blur", help="comma-separated: grey, blur, noise")
    parser.add_argument(
        "--fraction",
        type=float,
        default=DEFAULT_ATTENDED_FRACTION,
        help="share of the noun's attention mass the attended mask covers",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the measurement, print a table, return (and optionally write) the figures."""
    args = _parser().parse_args(argv)
    if args.scenes < 1:
        raise SystemExit(f"--scenes must be at least 1, got {args.scenes}")
    import torch

    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import resource_dir

    torch.set_num_threads(args.threads)
    args.checkpoint = args.checkpoint or str(resource_dir() / "checkpoints" / CHECKPOINT_NAME)
    started = time.perf_counter()
    model = load_inference_model(args.checkpoint, device="cpu")
    settings = MaskSettings(
        fills=tuple(f.strip() for f in args.fills.split(",") if f.strip()),
        fraction=args.fraction,
        seed=args.seed,
    )
    report = measure_mask_pointing(model, generate_dataset(args.scenes, args.seed), settings)
    result = {
        **report.to_dict(),
        "checkpoint": args.checkpoint,
        "seed": args.seed,
        "fraction": args.fraction,
        "threads": args.threads,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(_format(result))
    print(f"run time {result['seconds']} s on {args.threads} thread(s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=2)
    return result


if __name__ == "__main__":
    main()
