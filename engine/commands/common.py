"""Options and helpers the translate and caption commands share."""

from __future__ import annotations

import argparse
import io
import math
import sys
from dataclasses import replace
from typing import Any

from attnscope.engine.decode_record import json_line
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.decoding import config as decoding_config
from attnscope.engine.errors import AttnScopeError

# DecodeConfig field -> the options that set it; unless --no-recommended, a field comes from
# the checkpoint unless one of its options was given a value other than its default
RECOMMENDABLE = {
    "strategy": ("beam", "sample"),
    "beam_size": ("beam",),
    "n_best": ("n_best",),
    "length_penalty": ("length_penalty",),
    "alpha": ("alpha",),
    "max_length": ("max_length",),
}
# option -> (lowest, highest) value accepted: beyond these a decode runs out of memory,
# crashes inside torch or means nothing (a temperature of 1e-300 is greedy with NaNs)
# The decoding options' bounds are DecodeConfig's (engine/decoding/config.py), checked here
# first so the refusal names the option the user typed.
OPTION_BOUNDS: dict[str, tuple[float, float]] = {
    "--beam": (0, decoding_config.MAX_BEAM),
    "--n-best": (1, decoding_config.MAX_BEAM),
    "--temperature": (0.01, 100.0),
    "--top-k": (0, decoding_config.MAX_TOKENS_OPTION),
    "--top-p": (0.0, 1.0),
    "--seed": (0, decoding_config.MAX_SEED),
    "--max-length": (1, decoding_config.MAX_LENGTH),
    "--alpha": (0.0, decoding_config.MAX_PENALTY),
    "--batch-size": (1, 4096),
}
OPTION_DEFAULTS = {
    "beam": 0,
    "sample": False,
    "n_best": 1,
    "length_penalty": "none",
    "alpha": 0.6,
    "max_length": 100,
}


def add_decode_arguments(parser: argparse.ArgumentParser, *, checkpoint: bool = True) -> None:
    """The decoding options; ``checkpoint=False`` leaves ``-c`` to the caller (compare
    takes two)."""
    if checkpoint:
        parser.add_argument(
            "-c",
            "--checkpoint",
            required=True,
            help="checkpoint file, or a Hugging Face model folder (save_pretrained layout)",
        )
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
    recommended = parser.add_mutually_exclusive_group()
    recommended.add_argument(
        "--recommended",
        dest="recommended",
        action="store_const",
        const=True,
        default=None,
        help="decode as the checkpoint recommends (the default: the settings chosen on its "
        "validation set, shown by `attnscope info` under training_info; for a Hugging Face "
        "folder, what its generation_config.json says that AttnScope can honour, "
        "`attnscope info DIR` names the rest); options given with a non-default value win",
    )
    recommended.add_argument(
        "--no-recommended",
        dest="recommended",
        action="store_const",
        const=False,
        help="ignore the checkpoint's recommendation: greedy unless the options say otherwise",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def decode_config_from_args(
    args: argparse.Namespace, *, text: bool, recommended: dict[str, Any] | None = None
) -> DecodeConfig:
    """The DecodeConfig these command-line options ask for.

    By default (and with ``--recommended``) ``recommended``, a checkpoint's
    ``info["recommended_decoding"]``, fills every setting whose options were
    left at their defaults, as Hugging Face applies a model's generation_config;
    ``--no-recommended`` takes the options alone. A checkpoint without a
    recommendation gets a note on stderr only when ``--recommended`` was given.
    """
    config = config_from_options(args, text=text)
    asked = getattr(args, "recommended", None)
    if asked is False:
        return config
    if not recommended:
        if asked:
            print(
                "attnscope: this checkpoint recommends no decoding settings; "
                "using the options given",
                file=sys.stderr,
            )
        return config
    chosen = {
        field: value
        for field, value in recommended.items()
        if not any(getattr(args, o) != OPTION_DEFAULTS[o] for o in RECOMMENDABLE.get(field, ()))
    }
    try:
        config = replace(config, **chosen)
    except (TypeError, ValueError) as exc:  # a field DecodeConfig lacks, or a bad value
        raise ValueError(
            f"the checkpoint's recommended_decoding is unusable ({exc}); "
            "decode with --no-recommended"
        ) from exc
    if config.strategy == "beam" and args.n_best != OPTION_DEFAULTS["n_best"]:
        config = replace(config, n_best=args.n_best)  # asked for along a recommended beam
    if chosen and sys.stderr.isatty():
        print(
            f"attnscope: decoding as the checkpoint recommends ({describe_settings(chosen)}); "
            "--no-recommended for plain greedy",
            file=sys.stderr,
        )
    return config


def describe_settings(values: dict[str, Any]) -> str:
    """'beam 5, GNMT length penalty α 1.5' for DecodeConfig fields."""
    strategy = values.get("strategy", "greedy")
    text = f"beam {values.get('beam_size', 5)}" if strategy == "beam" else strategy
    penalty = values.get("length_penalty", "none")
    if penalty == "gnmt":
        text += f", GNMT length penalty α {values.get('alpha', 0.0)}"
    elif penalty != "none":
        text += f", {penalty} length penalty"
    if "max_length" in values:
        text += f", at most {values['max_length']} tokens"
    return text


def config_from_options(args: argparse.Namespace, *, text: bool) -> DecodeConfig:
    """The DecodeConfig of the options alone (no recommendation): checks them before a load."""
    check_option_values(args)
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


def check_option_values(args: argparse.Namespace) -> None:
    """Refuse a decoding option outside its bounds with one line naming the option
    (ValueError): a beam of 10^8 or a max length of 10^9 would exhaust memory, a seed past
    64 bits or a NaN temperature would crash inside torch."""
    for option, (low, high) in OPTION_BOUNDS.items():
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{option} must be a finite number, got {value}")
        if not low <= value <= high:
            raise ValueError(
                f"{option} must be between {_number(low)} and {_number(high)}, got {_number(value)}"
            )
    if args.top_p <= 0:
        raise ValueError(f"--top-p must be above 0 (and at most 1), got {args.top_p:g}")
    if args.beam > 1 and args.n_best > args.beam:
        raise ValueError(f"--n-best {args.n_best} cannot exceed --beam {args.beam}")


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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


def read_input_lines(path: str | None, option: str) -> list[str]:
    """The lines of file ``path`` (stdin when None) as engine/input_files.py reads them:
    split on newline only, compressed input bounded, special files refused by kind; a
    line with invalid UTF-8 keeps its place, its bad bytes replaced, and stderr says so."""
    from attnscope.engine.input_files import display_path, read_stream_lines, read_text_lines

    if path:
        text = read_text_lines(path, what=option, allow_pipe=True)  # -i <(cmd) works
    else:  # a replaced sys.stdin (tests, embedding) may be text only
        stdin = getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode())
        text = read_stream_lines(stdin)
    note = text.replaced_note(display_path(path) if path else "standard input")
    if note:
        print(f"attnscope: {note}", file=sys.stderr)
    return text.lines


def print_json_line(record: dict[str, Any]) -> None:
    """One record on stdout as a line of strict JSON (engine/decode_record.json_line)."""
    sys.stdout.write(json_line(record) + "\n")
    sys.stdout.flush()


def recommended_decoding(model) -> dict[str, Any] | None:
    """The decoding a loaded model's checkpoint recommends (``info["recommended_decoding"]``)."""
    value = model.info.get("recommended_decoding")
    return value if isinstance(value, dict) else None


def progress_bar(total: int, unit: str, *, desc: str | None = None, nested: bool = False):
    """A tqdm bar on stderr with rate and ETA; silent when stderr is not a terminal, so
    logs and pipes get no carriage-return noise and stdout carries results only.

    ``nested`` puts it under an outer bar (evaluate's stages, score's pairs) and removes
    it when it closes.
    """
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        file=sys.stderr,
        disable=None,  # None: off unless stderr is a terminal
        dynamic_ncols=True,
        position=1 if nested else 0,
        leave=not nested,
    )


def fail(message: str) -> int:
    """One clear line on stderr; exit status 2."""
    from attnscope.engine.input_files import printable

    print(f"attnscope: error: {printable(message)}", file=sys.stderr)
    return 2
