"""Options and helpers the translate and caption commands share."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from attnscope.engine.decode_record import json_line
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import AttnScopeError

# DecodeConfig field -> the options that set it; with --recommended, a field comes from the
# checkpoint unless one of its options was given a value other than its default
RECOMMENDABLE = {
    "strategy": ("beam", "sample"),
    "beam_size": ("beam",),
    "n_best": ("n_best",),
    "length_penalty": ("length_penalty",),
    "alpha": ("alpha",),
    "max_length": ("max_length",),
}
OPTION_DEFAULTS = {
    "beam": 0,
    "sample": False,
    "n_best": 1,
    "length_penalty": "none",
    "alpha": 0.6,
    "max_length": 100,
}


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--checkpoint", required=True, help="checkpoint file")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    parser.add_argument(
        "--beam",
        type=int,
        default=OPTION_DEFAULTS["beam"],
        metavar="K",
        help="beam search with K beams",
    )
    parser.add_argument(
        "--n-best",
        type=int,
        default=OPTION_DEFAULTS["n_best"],
        metavar="N",
        help="hypotheses per input (beam)",
    )
    parser.add_argument("--sample", action="store_true", help="sample instead of greedy/beam")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=OPTION_DEFAULTS["max_length"])
    parser.add_argument(
        "--length-penalty",
        default=OPTION_DEFAULTS["length_penalty"],
        choices=("none", "average", "gnmt"),
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=OPTION_DEFAULTS["alpha"],
        help="GNMT length penalty strength",
    )
    parser.add_argument(
        "--recommended",
        action="store_true",
        help="decode as the checkpoint recommends (chosen on its validation set; "
        "`attnscope info` shows it under training_info); options given with a non-default "
        "value win",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def decode_config_from_args(
    args: argparse.Namespace, *, text: bool, recommended: dict[str, Any] | None = None
) -> DecodeConfig:
    """The DecodeConfig these command-line options ask for.

    With ``--recommended``, ``recommended`` (a checkpoint's
    ``info["recommended_decoding"]``) fills every setting whose options were
    left at their defaults; a checkpoint without one gets a note on stderr.
    """
    config = config_from_options(args, text=text)
    if not getattr(args, "recommended", False):
        return config
    if not recommended:
        print(
            "attnscope: this checkpoint recommends no decoding settings; using the options given",
            file=sys.stderr,
        )
        return config
    chosen = {
        field: value
        for field, value in recommended.items()
        if not any(getattr(args, o) != OPTION_DEFAULTS[o] for o in RECOMMENDABLE.get(field, ()))
    }
    config = replace(config, **chosen)
    if config.strategy == "beam" and args.n_best != OPTION_DEFAULTS["n_best"]:
        config = replace(config, n_best=args.n_best)  # asked for along a recommended beam
    return config


def config_from_options(args: argparse.Namespace, *, text: bool) -> DecodeConfig:
    """The DecodeConfig of the options alone (no recommendation): checks them before a load."""
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


def translate_batch_or_lines(model, texts: list[str], config: DecodeConfig) -> list[Any]:
    """``model.translate`` of ``texts`` as one batch: a Translation per text.

    A text the model cannot take (too long, nothing the tokenizer reads) would
    sink the whole batch; then each text is translated alone and a refused one
    gets its AttnScopeError in place of a Translation.
    """
    try:
        return list(model.translate(texts, config, batch_size=max(len(texts), 1)))
    except AttnScopeError:
        pass
    results: list[Any] = []
    for text in texts:
        try:
            results.append(model.translate([text], config)[0])
        except AttnScopeError as exc:
            results.append(exc)
    return results


def print_json_line(record: dict[str, Any]) -> None:
    """One record on stdout as a line of strict JSON (engine/decode_record.json_line)."""
    sys.stdout.write(json_line(record) + "\n")
    sys.stdout.flush()


def recommended_decoding(model) -> dict[str, Any] | None:
    """The decoding a loaded model's checkpoint recommends (``info["recommended_decoding"]``)."""
    value = (model.checkpoint.info or {}).get("recommended_decoding")
    return value if isinstance(value, dict) else None


def show_progress(done: int, total: int, unit: str = "lines") -> None:
    """A progress bar on stderr, redrawn in place; call it only when stderr is a terminal."""
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}")
    if done == total:
        sys.stderr.write("\n")


def fail(message: str) -> int:
    """One clear line on stderr; exit status 2."""
    print(f"attnscope: error: {message}", file=sys.stderr)
    return 2
