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
from attnscope.engine.commands.translate_flags import (
    DEFAULT_SPEC,
    flag_summary,
    flags_of,
    flags_text,
    load_flags,
    prepare_config,
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
    parser.add_argument(
        "--flag",
        nargs="?",
        const=DEFAULT_SPEC,
        metavar="CONDITIONS",
        help="add the breakpoint conditions that fired on each line ('translation ||| flags: "
        "repeated_ngram@5, uncovered_at_eos@9', 0-based steps; a 'flags' list with --json) "
        "and a summary on stderr. CONDITIONS: comma-separated NAME[=VALUE] of entropy, "
        "low_probability, repeated_ngram (repeat), stuck_attention (stuck), uncovered_at_eos "
        f"(uncovered), over_covered (over), no_eos (no-eos: N or Nx), token (PIECE or #ID); "
        f"alone: {DEFAULT_SPEC}",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.training import distributed

    try:
        config_from_options(args, text=True)  # bad options fail before the load
        if args.output:
            check_output_path(args.output, "-o")
        breakpoints = load_flags(args.flag)
        model = load_inference_model(args.checkpoint, device=args.device)
        if model.task != "translation":
            return fail(f"{args.checkpoint} is a {model.task} model; use `attnscope caption`")
        if args.align and not model.model.num_heads:
            return fail(f"{args.checkpoint} has no attention to read alignments from")
        config = decode_config_from_args(args, text=True, recommended=recommended_decoding(model))
        if breakpoints is not None:
            config = prepare_config(breakpoints, config, model, args.checkpoint)
        lines = read_input_lines(args.input, "-i")
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    context = distributed.init_distributed() if distributed.launched_by_torchrun() else None
    mine = distributed.shard_for_rank(list(enumerate(lines)), context)
    outputs, flagged = [], []  # flagged: per line, the names of the conditions that fired
    batch = max(args.batch_size, 1)
    bar = progress_bar(len(mine), "lines", desc="translate")
    for start in range(0, len(mine), batch):
        for line, outcome in _translate_chunk(model, mine[start : start + batch], config):
            hits = flags_of(outcome, breakpoints, model.piece)
            flagged.append(None if hits is None else sorted({h.condition for h in hits}))
            if args.json:
                outputs.append(
                    _as_record(line, outcome, args.checkpoint, config, align=args.align, flags=hits)
                )
            else:
                outputs.append(_as_text(outcome, align=args.align, flags=hits))
        bar.update(len(mine[start : start + batch]))
    bar.close()
    ordered = distributed.gather_in_order(outputs, context)  # strings or JSON-ready records
    if breakpoints is not None:
        flagged = distributed.gather_in_order(flagged, context)
    if context is not None:
        distributed.shutdown_distributed()
        if not context.is_main:
            return 0
    if breakpoints is not None:
        print(flag_summary(flagged, breakpoints.conditions), file=sys.stderr)
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


def _as_text(outcome, *, align: bool, flags=None) -> str:
    """One output line: the translation (then ``||| links`` when aligning, then
    ``||| flags: ...`` when flagging), or empty."""
    if outcome is None or isinstance(outcome, AttnScopeError):
        return ""
    parts = [outcome.text]
    if align:
        parts.append(_alignment(outcome))
    if flags is not None:
        parts.append(flags_text(flags))
    return " ||| ".join(parts)


def _as_record(line: str, outcome, checkpoint: str, config, *, align: bool, flags=None) -> dict:
    """One line's decode record (engine/decode_record.py), as --json prints it."""
    named = {"model": checkpoint, "settings": config}
    if outcome is None:
        return no_decode_record(task=TRANSLATION, source=line, **named)
    if isinstance(outcome, AttnScopeError):
        return no_decode_record(task=TRANSLATION, source=line, error=str(outcome), **named)
    return translation_record(outcome, align=align, flags=flags, **named)


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
