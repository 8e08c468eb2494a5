"""`attnscope translate -c CKPT`: lines from stdin (or --input) to translations on stdout."""

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
    translate_batch_or_lines,
)
from attnscope.engine.decode_record import (
    TRANSLATION,
    json_line,
    no_decode_record,
    translation_record,
)
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.input_files import check_output_path, write_text_atomically


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    parser.add_argument("-i", "--input", help="text file to translate (default: stdin)")
    parser.add_argument("-o", "--output", help="write here (default: stdout)")
    parser.add_argument(
        "--align",
        action="store_true",
        help="add word alignments read off the attention (Pharaoh 'src-tgt' pairs): "
        "'translation ||| 0-0 1-2 ...', or an 'alignment' field with --json",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.training import distributed

    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if args.output:
            check_output_path(args.output, "-o")
        model = load_inference_model(args.checkpoint, device=args.device)
        if model.task != "translation":
            return fail(f"{args.checkpoint} is a {model.task} model; use `attnscope caption`")
        if args.align and not model.model.num_heads:
            return fail(f"{args.checkpoint} has no attention to read alignments from")
        config = decode_config_from_args(args, text=True, recommended=recommended_decoding(model))
        lines = read_input_lines(args.input, "-i")
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    context = distributed.init_distributed() if distributed.launched_by_torchrun() else None
    mine = distributed.shard_for_rank(list(enumerate(lines)), context)
    outputs = []
    batch = max(args.batch_size, 1)
    bar = progress_bar(len(mine), "lines", desc="translate")
    for start in range(0, len(mine), batch):
        for line, outcome in _translate_chunk(model, mine[start : start + batch], config):
            if args.json:
                outputs.append(_as_record(line, outcome, args.checkpoint, config, align=args.align))
            else:
                outputs.append(_as_text(outcome, align=args.align))
        bar.update(len(mine[start : start + batch]))
    bar.close()
    ordered = distributed.gather_in_order(outputs, context)  # strings or JSON-ready records
    if context is not None:
        distributed.shutdown_distributed()
        if not context.is_main:
            return 0
    return _write(ordered, args)


def _translate_chunk(model, chunk, config) -> list[tuple[str, object]]:
    """(line, outcome) of (index, line) pairs, the chunk's lines decoded as one batch;
    the outcome is a Translation, the AttnScopeError that refused the line, or None
    for an empty line.

    A line the model cannot take (too long, nothing the tokenizer reads) would
    sink its whole batch: then the chunk is translated line by line and only
    that line becomes an error entry (stderr says why), not a crash.
    """
    texts = [line for _, line in chunk if line.strip()]
    done = iter(translate_batch_or_lines(model, texts, config))
    results: list[tuple[str, object]] = []
    for _, line in chunk:
        outcome = next(done) if line.strip() else None
        if isinstance(outcome, AttnScopeError):
            print(f"attnscope: line skipped: {outcome}", file=sys.stderr)
        results.append((line, outcome))
    return results


def _as_text(outcome, *, align: bool) -> str:
    """One output line: the translation (with ``||| links`` when aligning), or empty."""
    if outcome is None or isinstance(outcome, AttnScopeError):
        return ""
    return f"{outcome.text} ||| {_alignment(outcome)}" if align else outcome.text


def _as_record(line: str, outcome, checkpoint: str, config, *, align: bool) -> dict:
    """One line's decode record (engine/decode_record.py), as --json prints it."""
    named = {"model": checkpoint, "settings": config}
    if outcome is None:
        return no_decode_record(task=TRANSLATION, source=line, **named)
    if isinstance(outcome, AttnScopeError):
        return no_decode_record(task=TRANSLATION, source=line, error=str(outcome), **named)
    return translation_record(outcome, align=align, **named)


def _alignment(t) -> str:
    """Pharaoh word links of one translation (empty when it has no attention)."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    if t.attention is None:
        return ""
    return pharaoh(hard_alignment(t.attention, t.source_pieces, t.pieces))


def _write(ordered: list[object], args: argparse.Namespace) -> int:
    """Write in input order; a file is written whole to a temp name, then renamed."""
    text = "".join((json_line(item) if args.json else str(item)) + "\n" for item in ordered)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        write_text_atomically(args.output, text, "-o")
    except AttnScopeError as exc:
        return fail(str(exc))
    return 0
