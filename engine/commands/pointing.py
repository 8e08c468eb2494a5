"""`attnscope pointing`: does attention, or an attribution, point at the shape a caption names?

    attnscope pointing [-c CKPT] [--scenes N] [--seed S] [--method NAME ...] [--json]

Generates ``N`` fresh scenes of the shapes data set (seed ``S``; the bundled
model's training and reports used seeds 1–5 and 11), captions each greedily
with the captioner (by default the bundled shapes-attention.safetensors) and,
at each shape's noun, tests whether the peak of attention and of each
attribution method lies inside that shape (engine/explain/pointing.py). Prints
a table (``--json``: one object) with the hit rate over the named shapes, per
grid cell and, for attributions, per pixel, beside chance.
"""

from __future__ import annotations

import argparse
import json

from attnscope.engine.commands.common import fail, progress_bar
from attnscope.engine.explain import METHODS
from attnscope.engine.explain.attribution import MAX_IG_STEPS

CHECKPOINT_NAME = "shapes-attention.safetensors"
DEFAULT_SEED = 21  # fresh: the shipped model used 1 (train), 2 (dev), 3, 4, 5; masks 11
MAX_SCENES = 100_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c", "--checkpoint", help=f"shapes captioner (default: the bundled {CHECKPOINT_NAME})"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--scenes", type=int, default=100, metavar="N", help="fresh scenes")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"scene seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--method",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        metavar="NAME",
        help=f"attribution methods beside attention: {', '.join(METHODS)} (default all)",
    )
    parser.add_argument(
        "--ig-steps", type=int, default=32, metavar="N", help="integrated gradients steps"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.errors import AttnScopeError
    from attnscope.engine.explain.pointing import measure_explained_pointing
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import resource_dir
    from attnscope.engine.shapes import generate_dataset

    methods = list(dict.fromkeys(args.method))
    checkpoint = args.checkpoint or str(resource_dir() / "checkpoints" / CHECKPOINT_NAME)
    try:
        if not 1 <= args.scenes <= MAX_SCENES:
            raise ValueError(f"--scenes must be between 1 and {MAX_SCENES:,}, got {args.scenes}")
        if not 0 <= args.seed < 2**63:
            raise ValueError(f"--seed must be between 0 and 2^63 - 1, got {args.seed}")
        if not 1 <= args.ig_steps <= MAX_IG_STEPS:
            raise ValueError(
                f"--ig-steps must be between 1 and {MAX_IG_STEPS}, got {args.ig_steps}"
            )
        model = load_inference_model(checkpoint, device=args.device)
        if model.task != "captioning":
            raise ValueError(f"{checkpoint} is a {model.task} model; pointing needs a captioner")
        bar = progress_bar(args.scenes, "scenes", desc="pointing")
        report = measure_explained_pointing(
            model,
            generate_dataset(args.scenes, args.seed),
            methods,
            ig_steps=args.ig_steps,
            on_scene=bar.update,
        )
        bar.close()
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    figures = report.to_dict()
    if args.json:
        print(json.dumps({"checkpoint": checkpoint, "seed": args.seed, **figures}))
    else:
        print(pointing_table(figures, seed=args.seed))
    return 0


def pointing_table(figures: dict, *, seed: int) -> str:
    """Markdown: one row per explanation, hits over the named shapes per cell and pixel."""
    named = figures["named"]
    lines = [
        f"{figures['scenes']} scenes (seed {seed}), {figures['shapes']} shapes, "
        f"{named} named by the captions",
        "",
        "| explanation | peak cell inside the shape | peak pixel inside the shape |",
        "|---|---|---|",
    ]
    for name, entry in figures["methods"].items():
        lines.append(
            f"| {name} | {_share(entry['cell_hits'], named)} | {_share(entry['pixel_hits'], named)} |"
        )
    lines.append(f"| chance (random peak) | {100 * figures['chance']:.1f} % | same |")
    return "\n".join(lines)


def _share(hits: int | None, total: int) -> str:
    if hits is None:
        return "–"
    if not total:
        return "n/a"
    return f"{100 * hits / total:.1f} % ({hits} of {total})"
