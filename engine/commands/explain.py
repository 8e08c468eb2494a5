"""`attnscope explain -c CKPT --src FILE`: attribution beside attention for every line of a file.

Each line is translated with the model's recommended decoding (as ``translate``
decodes it), then every step of the output (eos included) is attributed onto
the source with each ``--method`` (engine/explain), teacher-forced on that
output, and compared with the step's attention (heads averaged; for a Hugging Face
model every head of every decoder layer, as the record's ``attention_mean_of``
says): Spearman ρ, top-1 match and Jensen–Shannon divergence per step, and their
means.

Output, one line per input line (stdout or ``-o``): with ``--json`` a JSON
object holding the tokens, the attention, each method's per-step scores and
agreement and the means; without it ``translation ||| method ρ top-1 JSD ...``.
stderr gets the mean agreement per method over the file. A line the model
refuses (too long, nothing it can read) is reported and written as an error
record (an empty line with text output); the rest goes on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    progress_bar,
    read_input_lines,
    recommended_decoding,
    translate_batch_or_lines,
)
from attnscope.engine.decode_record import json_line
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.explain import METHODS
from attnscope.engine.explain.attribution import MAX_IG_STEPS
from attnscope.engine.hf.multilingual import add_language_arguments, choose_languages
from attnscope.engine.input_files import check_output_path, write_text_atomically

AGREEMENT_FIELDS = ("spearman", "top1", "jsd")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    add_language_arguments(parser)
    parser.add_argument("--src", required=True, metavar="FILE", help="source lines (.gz ok)")
    parser.add_argument("-o", "--output", help="write here (default: stdout)")
    parser.add_argument(
        "--method",
        nargs="+",
        choices=METHODS,
        default=["saliency"],
        metavar="NAME",
        help=f"attribution methods: {', '.join(METHODS)} (several allowed; default saliency)",
    )
    parser.add_argument(
        "--ig-steps", type=int, default=32, metavar="N", help="integrated gradients steps"
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model

    methods = list(dict.fromkeys(args.method))
    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if not 1 <= args.ig_steps <= MAX_IG_STEPS:
            raise ValueError(
                f"--ig-steps must be between 1 and {MAX_IG_STEPS}, got {args.ig_steps}"
            )
        if args.output:
            check_output_path(args.output, "-o")
        lines = read_input_lines(args.src, "--src")
        model = load_inference_model(args.checkpoint, device=args.device)
        if model.task != "translation":
            raise ValueError(
                f"{args.checkpoint} is a {model.task} model; `attnscope pointing` explains "
                "a captioner against the shapes' ground truth"
            )
        choose_languages(args, model)
        config = decode_config_from_args(args, text=True, recommended=recommended_decoding(model))
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    tallies, outputs = [], []  # tallies: per line, what the summary needs (not the matrices)
    batch = max(args.batch_size, 1)
    bar = progress_bar(len(lines), "lines", desc="explain")
    for start in range(0, len(lines), batch):
        chunk = lines[start : start + batch]
        for number, (line, outcome) in enumerate(_translated(model, chunk, config), start + 1):
            record = explain_line(model, line, outcome, methods, ig_steps=args.ig_steps)
            if "error" in record and outcome is not None:
                print(
                    f"attnscope: {args.src} line {number} skipped: {record['error']}",
                    file=sys.stderr,
                )
            tallies.append(_tally(record))
            outputs.append(json_line(record) if args.json else as_text(record))
            bar.update()
    bar.close()
    print(summary(tallies, methods), file=sys.stderr)
    return _write("".join(f"{line}\n" for line in outputs), args.output)


def _translated(model, chunk: Sequence[str], config) -> list[tuple[str, object]]:
    """(line, Translation | AttnScopeError | None for an empty line) in order."""
    texts = [line for line in chunk if line.strip()]
    done = iter(translate_batch_or_lines(model, texts, config))
    return [(line, next(done) if line.strip() else None) for line in chunk]


def explain_line(model, line: str, outcome, methods: Sequence[str], *, ig_steps: int) -> dict:
    """One line's record: its translation's tokens, attention and, per method, the
    per-step attribution and agreement with attention and their means. An empty line
    gets a record without methods; a refused one an ``error``."""
    from attnscope.engine.explain import agreement, explain, mean_agreement

    if outcome is None:
        return {"source": line, "translation": None}
    if isinstance(outcome, AttnScopeError):
        return {"source": line, "error": str(outcome)}
    attention = None if outcome.attention is None else outcome.attention.mean(axis=1)  # (T, S)
    record = {
        "source": line,
        "translation": outcome.text,
        "tokens": list(outcome.pieces),
        "source_tokens": list(outcome.source_pieces),
        "attention": attention,
        "attention_mean_of": _attention_rows(model),
        "methods": {},
    }
    for method in methods:
        try:
            result = explain(model, line, outcome.token_ids, method=method, ig_steps=ig_steps)
        except AttnScopeError as exc:
            return {"source": line, "error": f"{method}: {exc}"}
        entry = {"scores": result.scores, "target_values": result.target_values}
        if result.baseline_values is not None:
            entry["baseline_values"] = result.baseline_values
        if attention is not None:
            entry["agreement"] = [
                _agreement_dict(agreement(a, s))
                for a, s in zip(attention, result.scores, strict=True)
            ]
            entry["mean_agreement"] = _agreement_dict(mean_agreement(attention, result.scores))
        record["methods"][method] = entry
    return record


def _attention_rows(model) -> dict:
    """What ``attention`` averages (and agreement is measured against): every head of
    every decoder layer (a Hugging Face model's cross-attention stacks layers)."""
    layers = getattr(model.model, "num_layers", 1)
    return {"layers": layers, "heads": model.model.num_heads // max(layers, 1)}


def _agreement_dict(value) -> dict:
    return {name: getattr(value, name) for name in AGREEMENT_FIELDS}


def as_text(record: dict) -> str:
    """``translation ||| saliency ρ 0.41 top-1 0.50 JSD 0.32 ||| ...`` (empty for a line
    without a translation)."""
    if not record.get("translation"):
        return ""
    parts = [record["translation"]]
    for method, entry in record["methods"].items():
        mean = entry.get("mean_agreement")
        if mean is None:
            parts.append(f"{method} (no attention to compare)")
        else:
            parts.append(
                f"{method} ρ {_number(mean['spearman'])} top-1 {_number(mean['top1'])} "
                f"JSD {_number(mean['jsd'])}"
            )
    return " ||| ".join(parts)


def _number(value: float) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{value:.2f}"


def _tally(record: dict) -> dict:
    """What ``summary`` needs of one line's record: refused or not, and per method the
    per-step agreement (None without attention)."""
    return {
        "refused": "error" in record,
        "agreement": {
            method: entry.get("agreement") for method, entry in record.get("methods", {}).items()
        },
    }


def summary(tallies: list[dict], methods: Sequence[str]) -> str:
    """Per method, the mean over every explained step of the file (each step weighs the
    same; undefined values left out) and how many lines and steps that covers."""
    explained = [t for t in tallies if t["agreement"]]
    refused = sum(t["refused"] for t in tallies)
    lines = [
        f"attnscope: explained {len(explained)} of {len(tallies)} lines"
        + (f" ({refused} refused)" if refused else "")
    ]
    for method in methods:
        steps = [s for t in explained for s in t["agreement"][method] or ()]
        if not steps:
            lines.append(f"  {method}: no attention to compare with")
            continue
        means = {name: _mean([float(s[name]) for s in steps]) for name in AGREEMENT_FIELDS}
        lines.append(
            f"  {method}: mean over {len(steps)} steps: Spearman ρ {_number(means['spearman'])}, "
            f"top-1 match {_number(means['top1'])}, JSD {_number(means['jsd'])} bits"
        )
    return "\n".join(lines)


def _mean(values: list[float]) -> float:
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def _write(text: str, output: str | None) -> int:
    if not output:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomically(output, text, "-o")
    except AttnScopeError as exc:
        return fail(str(exc))
    return 0
