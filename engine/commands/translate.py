"""`attnscope translate -c CKPT`: lines from stdin (or --input) to translations on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    recommended_decoding,
    show_progress,
    to_jsonable,
    translate_batch_or_lines,
)
from attnscope.engine.errors import AttnScopeError


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
        model = load_inference_model(args.checkpoint, device=args.device)
        if model.task != "translation":
            return fail(f"{args.checkpoint} is a {model.task} model; use `attnscope caption`")
        if args.align and not model.model.num_heads:
            return fail(f"{args.checkpoint} has no attention to read alignments from")
        config = decode_config_from_args(args, text=True, recommended=recommended_decoding(model))
        if args.input:
            with open(args.input, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        else:
            lines = sys.stdin.read().splitlines()
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    context = distributed.init_distributed() if distributed.launched_by_torchrun() else None
    mine = distributed.shard_for_rank(list(enumerate(lines)), context)
    outputs = []
    batch = max(args.batch_size, 1)
    for start in range(0, len(mine), batch):
        chunk = mine[start : start + batch]
        outputs.extend(_translate_chunk(model, chunk, config, as_json=args.json, align=args.align))
        if args.input and sys.stderr.isatty():
            show_progress(min(start + batch, len(mine)), len(mine))
    ordered = distributed.gather_in_order([to_jsonable(o) for o in outputs], context)
    if context is not None:
        distributed.shutdown_distributed()
        if not context.is_main:
            return 0
    return _write(ordered, args)


def _translate_chunk(model, chunk, config, *, as_json: bool, align: bool) -> list[object]:
    """Translations of (index, line) pairs, the chunk's lines decoded as one batch.

    A line the model cannot take (too long, nothing the tokenizer reads) would
    sink its whole batch: then the chunk is translated line by line and only
    that line becomes an error entry (stderr says why), not a crash.
    """
    texts = [line for _, line in chunk if line.strip()]
    done = iter(translate_batch_or_lines(model, texts, config))
    results: list[object] = []
    for _, line in chunk:
        if not line.strip():
            results.append({"source": line, "translation": ""} if as_json else "")
            continue
        t = next(done)
        if isinstance(t, AttnScopeError):
            results.append({"source": line, "error": str(t)} if as_json else "")
            print(f"attnscope: line skipped: {t}", file=sys.stderr)
            continue
        if as_json:
            results.append(_as_output(t, align=align))
        else:
            results.append(f"{t.text} ||| {_alignment(t)}" if align else t.text)
    return results


def _alignment(t) -> str:
    """Pharaoh word links of one translation (empty when it has no attention)."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    if t.attention is None:
        return ""
    return pharaoh(hard_alignment(t.attention, t.source_pieces, t.pieces))


def _as_output(t, *, align: bool = False) -> dict[str, object]:
    """One translation as the JSON object --json prints."""
    extra = {"alignment": _alignment(t)} if align else {}
    return {
        "source": t.source,
        "translation": t.text,
        "source_tokens": t.source_pieces,
        "tokens": t.pieces,
        "score": t.score,
        "nbest": [{"translation": s, "score": v} for s, v in t.nbest],
        "attention": t.attention,
        **extra,
    }


def _write(ordered: list[object], args: argparse.Namespace) -> int:
    """Write in input order; a file is written whole to a temp name, then renamed."""
    text = "".join(
        (json.dumps(item, ensure_ascii=False) if args.json else str(item)) + "\n"
        for item in ordered
    )
    if not args.output:
        sys.stdout.write(text)
        return 0
    partial = f"{args.output}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, args.output)
    return 0
