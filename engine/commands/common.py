"""Options and helpers the translate and caption commands share."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from attnscope.engine.decoding import DecodeConfig


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--checkpoint", required=True, help="checkpoint file")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument("--beam", type=int, default=0, metavar="K", help="beam search with K beams")
    parser.add_argument(
        "--n-best", type=int, default=1, metavar="N", help="hypotheses per input (beam)"
    )
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy/beam")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=100)
    parser.add_argument("--length-penalty", default="none", choices=("none", "average", "gnmt"))
    parser.add_argument("--alpha", type=float, default=0.6, help="GNMT length penalty strength")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def decode_config_from_args(args: argparse.Namespace, *, text: bool) -> DecodeConfig:
    """The DecodeConfig these command-line options ask for."""
    if args.sample and args.beam:
        raise ValueError("choose either --beam or --sample, not both")
    strategy = "sampling" if args.sample else "beam" if args.beam > 1 else "greedy"
    return DecodeConfig(
        strategy=strategy,
        beam_size=max(args.beam, 1),
        n_best=args.n_best if strategy == "beam" else 1,
        max_length=args.max_length,
        max_length_ratio=2.0 if text else 0.0,
        length_penalty=args.length_penalty,
        alpha=args.alpha,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )


def to_jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.round(value.astype(float), 5).tolist()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def print_json_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(to_jsonable(payload), ensure_ascii=False) + "\n")


def fail(message: str) -> int:
    """One clear line on stderr; exit status 2."""
    print(f"attnscope: error: {message}", file=sys.stderr)
    return 2
