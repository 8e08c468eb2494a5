"""Command line of the shapes data set: write scenes, or measure a captioner's pointing.

python -m attnscope.engine.shapes write OUT_DIR --n N --seed S [--dev-n M]
python -m attnscope.engine.shapes pointing -c CHECKPOINT --seed S [--n N]
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence

from attnscope.engine.shapes.dataset_files import write_dataset, write_splits
from attnscope.engine.shapes.pointing import measure_pointing
from attnscope.engine.shapes.scenes import generate_dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attnscope.engine.shapes",
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
    from attnscope.engine.inference import load_inference_model  # torch, the model: only here

    model = load_inference_model(args.checkpoint, device=args.device)
    report = measure_pointing(model, generate_dataset(args.n, args.seed))
    print(json.dumps(report.to_dict()))
    return 0
