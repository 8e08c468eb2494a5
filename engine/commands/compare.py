"""`attnscope compare -c A -c B --src FILE [--ref FILE] [--json]`: two models, line by line.

Both checkpoints decode every source line (each with its own recommended decoding
unless the options say otherwise; for a captioner a line is an image path). Per line:

    [3] ein mann fährt fahrrad .
      A  a man rides a bike .            log-prob -2.31 (-0.33/token)
      B  a man is riding a bike .        log-prob -4.02 (-0.50/token)
      cross  B scores A -5.12 (-0.73/token)   A scores B -7.80 (-0.98/token)
      words  rides → is riding (p 0.41 → 0.12)
      attention  word level: mean JSD 0.214 bits, top-1 agreement 71%
      reference  A -3.10 (-0.44/token)   B -3.95 (-0.56/token)

The second checkpoint opens on the first one's device and must be of the same task and
languages. A line a model refuses is reported on stderr and skipped; the rest goes on.
``--json`` prints one record per line instead (engine/compare/record.py: both full
decode records, the cross-scores, the diff, the attention comparison). A summary
goes to stderr (engine/compare/summary.py), with a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import sys

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    progress_bar,
    read_input_lines,
    recommended_decoding,
)
from attnscope.engine.cpu_threads import add_threads_argument, set_decode_threads
from attnscope.engine.decode_record import json_line
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.hf.multilingual import add_language_arguments, choose_languages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser, checkpoint=False)
    add_language_arguments(parser)
    add_threads_argument(parser)
    parser.add_argument(
        "-c",
        "--checkpoint",
        action="append",
        required=True,
        metavar="CKPT",
        help="a checkpoint to compare; give it twice (-c A -c B)",
    )
    parser.add_argument("--src", required=True, help="source lines (image paths for captioning)")
    parser.add_argument("--ref", help="reference lines, one per source line (scored by both)")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.compare import load_partner
    from attnscope.engine.inference import load_inference_model

    try:
        if len(args.checkpoint) != 2:
            raise ValueError(
                f"give exactly two checkpoints (-c A -c B), got {len(args.checkpoint)}"
            )
        config_from_options(args, text=True)  # bad options fail before the loads
        set_decode_threads(args.threads)
        sources = read_input_lines(args.src, "--src")
        references = read_input_lines(args.ref, "--ref") if args.ref else None
        if references is not None and len(references) != len(sources):
            raise ValueError(
                f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}"
            )
        first = load_inference_model(args.checkpoint[0], device=args.device)
        second = load_partner(args.checkpoint[1], first)
        text = first.task == "translation"
        if text:
            choose_languages(args, first, second)
        configs = tuple(
            decode_config_from_args(args, text=text, recommended=recommended_decoding(m))
            for m in (first, second)
        )
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    return _compare_lines(args, (first, second), configs, sources, references)


def _compare_lines(args, models, configs, sources, references) -> int:
    from attnscope.engine.compare import compare_input
    from attnscope.engine.compare.record import comparison_record
    from attnscope.engine.compare.summary import CompareSummary

    summary = CompareSummary()
    bar = progress_bar(len(sources), "lines", desc="compare")
    for number, source in enumerate(sources, 1):
        reference = references[number - 1] if references is not None else None
        try:
            result = compare_input(*models, source, *configs, reference=reference or None)
        except AttnScopeError as exc:
            print(f"attnscope: line {number} skipped: {exc}", file=sys.stderr)
            summary.skip()
            if args.json:
                sys.stdout.write(json_line({"line": number, "source": source, "error": str(exc)}))
                sys.stdout.write("\n")
            bar.update()
            continue
        summary.add(result)
        if args.json:
            record = comparison_record(
                result,
                models=tuple(args.checkpoint),
                settings=configs,
                reference=reference or None,
            )
            sys.stdout.write(json_line({"line": number, **record}) + "\n")
        else:
            sys.stdout.write(describe(number, result) + "\n")
        sys.stdout.flush()
        bar.update()
    bar.close()
    print(summary.describe(), file=sys.stderr)
    return 0


def _score(log_prob: float, tokens: int) -> str:
    return f"{log_prob:.2f} ({log_prob / max(tokens, 1):.2f}/token)"


def _forced(forced) -> str:
    if forced is None:
        return "-"
    return _score(forced.report.log_prob, len(forced.report.pieces))


def describe(number: int, result) -> str:
    """The readable block of one compared line (see the module)."""
    own_a, own_b = result.outputs
    log_a, log_b = result.own_log_probs
    width = max(len(own_a.target_text), len(own_b.target_text))
    lines = [
        f"[{number}] {own_a.source_text}",
        f"  A  {own_a.target_text:<{width}}  log-prob {_score(log_a, len(own_a.steps))}",
        f"  B  {own_b.target_text:<{width}}  log-prob {_score(log_b, len(own_b.steps))}",
        f"  cross  B scores A {_forced(result.b_scores_a)}   "
        f"A scores B {_forced(result.a_scores_b)}",
        f"  words  {result.diff.describe()}",
    ]
    attention = result.attention
    if attention is not None:
        lines.append(
            f"  attention  {attention.level} level: mean JSD {attention.mean_jsd:.3f} bits, "
            f"top-1 agreement {attention.top1_agreement:.0%}"
        )
    if result.reference is not None:
        lines.append(
            f"  reference  A {_forced(result.reference[0])}   B {_forced(result.reference[1])}"
        )
    lines.extend(f"  note  {note}" for note in result.notes)
    return "\n".join(lines)
