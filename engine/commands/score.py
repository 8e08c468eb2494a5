"""`attnscope score -c CKPT --src FILE --ref FILE`: how likely the model finds each reference.

Each reference line is forced through the model on its source line (for a
captioning model, a source line is an image path), as Decode > Check a
reference does in the app. One line out per pair, tab-separated:

    log_prob  tokens  perplexity  disagreements  model_log_prob  model_tokens

where ``disagreements`` counts the steps whose most likely token was not the
reference's and ``model_*`` is the model's own output with the decoding
options given (``--no-compare`` skips that decode; ``-``). ``--json`` writes
one object per line with the pieces, per-token log-probs, the disagreements
and the model's output. A corpus summary goes to stderr; a pair the model
cannot take is reported there and left empty.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

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
from attnscope.engine.input_files import check_output_path, write_text_atomically
from attnscope.engine.quantize import add_int8_argument, use_int8

COLUMNS = ("log_prob", "tokens", "perplexity", "disagreements", "model_log_prob", "model_tokens")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    add_language_arguments(parser)
    add_threads_argument(parser)
    add_int8_argument(parser)
    parser.add_argument("--src", required=True, help="source lines (image paths for captioning)")
    parser.add_argument("--ref", required=True, help="reference lines, one per source line")
    parser.add_argument("-o", "--output", help="write here (default: stdout)")
    parser.add_argument(
        "--no-compare", action="store_true", help="skip the model's own decode of each source"
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model

    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if args.output:
            check_output_path(args.output, "-o")
        sources = read_input_lines(args.src, "--src")
        references = read_input_lines(args.ref, "--ref")
        if len(sources) != len(references):
            raise ValueError(
                f"{args.src} has {len(sources)} lines but {args.ref} has {len(references)}"
            )
        set_decode_threads(args.threads)
        model = load_inference_model(args.checkpoint, device=args.device)
        if args.int8:
            use_int8(model)
        text = model.task == "translation"
        if text:
            choose_languages(args, model)
        config = decode_config_from_args(args, text=text, recommended=recommended_decoding(model))
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    own = {}  # line index -> Translation: a translator's own outputs, decoded in batches
    if text and not args.no_compare:
        own = _own_translations(model, sources, config, max(args.batch_size, 1))
    compare = not args.no_compare and not text  # a captioner compares line by line
    rows, reports = [], []
    bar = progress_bar(len(sources), "pairs", desc="score")
    for number, (source, reference) in enumerate(zip(sources, references, strict=True), 1):
        report = _score(model, source, reference, config, compare=compare, line=number)
        if report is not None and number - 1 in own:
            translation = own[number - 1]
            report = replace(
                report,
                own_text=translation.text,
                own_log_prob=translation.log_prob,
                own_length=len(translation.pieces),
            )
        reports.append(report)
        rows.append(_as_json(source, reference, report) if args.json else _as_row(report))
        bar.update()
    bar.close()
    output = "".join((json_line(row) if args.json else row) + "\n" for row in rows)
    if args.output:
        try:
            write_text_atomically(args.output, output, "-o")
        except AttnScopeError as exc:
            return fail(str(exc))
    else:
        sys.stdout.write(output)
    print(summarize([r for r in reports if r is not None], len(reports)), file=sys.stderr)
    return 0


def _own_translations(model, sources: list[str], config, batch: int) -> dict[int, object]:
    """The model's own translation of every source line it can take, in length-sorted
    batches of ``batch`` (engine/batch.py's windows; a line it refuses is left out:
    ``_score`` reports it)."""
    from attnscope.engine.batch import translate_windows
    from attnscope.engine.inference_results import Translation

    own = {}
    bar = progress_bar(len(sources), "lines", desc="model outputs", nested=True)
    bar.update(sum(not source.strip() for source in sources))
    windows = translate_windows(model, sources, config, batch_size=batch, on_batch=bar.update)
    first = 0
    for outcomes in windows:
        own.update((first + i, t) for i, t in enumerate(outcomes) if isinstance(t, Translation))
        first += len(outcomes)
    bar.close()
    return own


def _score(model, source: str, reference: str, config, *, compare: bool, line: int):
    """The ReferenceReport of one pair, or None (stderr says why)."""
    from attnscope.engine.reference import force_reference

    try:
        _, report = force_reference(model, source, config, reference, compare=compare)
    except AttnScopeError as exc:
        print(f"attnscope: line {line} skipped: {exc}", file=sys.stderr)
        return None
    return report


def _as_row(report) -> str:
    if report is None:
        return "\t".join("" for _ in COLUMNS)
    values = [
        f"{report.log_prob:.4f}",
        str(len(report.pieces)),
        f"{report.perplexity:.4f}",
        str(len(report.disagreements)),
        "-" if report.own_log_prob is None else f"{report.own_log_prob:.4f}",
        "-" if report.own_length is None else str(report.own_length),
    ]
    return "\t".join(values)


def _as_json(source: str, reference: str, report) -> dict[str, object]:
    if report is None:
        return {"source": source, "reference": reference, "error": "skipped (see stderr)"}
    return {"source": source, "reference": reference, **report.as_dict()}


def summarize(reports: list, total: int) -> str:
    """Corpus figures: log-prob per token, perplexity, how often the model agreed."""
    from attnscope.engine.reference import safe_exp

    tokens = sum(len(r.pieces) for r in reports)
    if not tokens:
        return f"attnscope: no reference scored ({total} pairs)"
    log_prob = sum(r.log_prob for r in reports)
    agreed = 1 - sum(len(r.disagreements) for r in reports) / tokens
    text = (
        f"attnscope: scored {len(reports)} of {total} references, {tokens} tokens: "
        f"{log_prob / tokens:.3f} log-prob per token (perplexity {safe_exp(-log_prob / tokens):.2f});"
        f" the model's first choice was the reference's token at {agreed:.1%} of steps"
    )
    own = [r for r in reports if r.own_log_prob is not None]
    own_tokens = sum(r.own_length for r in own)
    if own_tokens:
        text += f"; its own outputs: {sum(r.own_log_prob for r in own) / own_tokens:.3f} per token"
    return text
