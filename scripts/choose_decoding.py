"""Choose a checkpoint's recommended decoding on its validation data (the grid of train's end).

    python scripts/choose_decoding.py -c CKPT --src val.de --ref val.en --out choice.json
    python scripts/choose_decoding.py -c CKPT --images DIR --captions CSV \\
        --split-file splits.tsv --split dev --max-length 30 --out choice.json

Takes the data options of ``attnscope evaluate`` and decodes the data once per
setting of ``attnscope.engine.decoding.choice.grid_settings()`` (greedy, beam
3 / 5 with no, average and GNMT length penalties), scoring BLEU for a
translator and CIDEr-D for a captioner. Prints one line per setting and
writes ``recommended_decoding`` and ``decoding_choice`` as JSON to ``--out``,
which ``scripts/set_checkpoint_metadata.py --info-json`` stores in the
checkpoint. A ``--max-length`` other than the default is part of every decode
and so of the recommendation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from attnscope.engine.commands import evaluate
from attnscope.engine.commands.common import OPTION_DEFAULTS, config_from_options
from attnscope.engine.decoding.choice import choose_decoding
from attnscope.engine.inference import load_inference_model

METRICS = {"translation": "bleu", "captioning": "cider"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    evaluate.add_arguments(parser)
    parser.add_argument("--out", required=True, help="JSON file for the two info entries")
    parser.add_argument("--data-name", help="how the data is named in the info (default: paths)")
    return parser


def _score(report: dict, task: str) -> float:
    return report["bleu"]["score"] if task == "translation" else report["CIDEr-D"]


def _data_name(args: argparse.Namespace, count: int) -> str:
    if args.data_name:
        return f"{args.data_name}, {count} {'sentences' if args.src else 'images'}"
    if args.src:
        return f"{Path(args.src).name} / {Path(args.ref).name}, {count} sentences"
    split = f" split {'+'.join(args.split)}" if args.split_file else ""
    return f"{Path(args.captions).name}{split}, {count} images"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    model = load_inference_model(args.checkpoint, device=args.device)
    job = evaluate.TASK_JOBS[model.task]
    inputs, references = job.read(args)
    text = model.task == "translation"
    base = replace(config_from_options(args, text=text), topk_alternatives=0)  # not scored
    fixed = {}
    if args.max_length != OPTION_DEFAULTS["max_length"]:
        fixed["max_length"] = args.max_length

    def score(config) -> float:
        started = time.perf_counter()
        report = job.score(job.decode(model, inputs, config, args), references, args)
        value = _score(report, model.task)
        print(f"  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
        return value

    def show(setting: dict, value: float) -> None:
        print(f"{value:8.4f}  {json.dumps(setting)}", flush=True)

    choice = choose_decoding(
        score,
        base,
        metric=METRICS[model.task],
        data=_data_name(args, len(inputs)),
        fixed=fixed,
        on_score=show,
    )
    Path(args.out).write_text(json.dumps(choice.to_info(), indent=2) + "\n", encoding="utf-8")
    print(f"chosen: {json.dumps(choice.recommended)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
