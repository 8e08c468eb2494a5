"""`attnscope import-onmt MODEL.pt -o OUT.safetensors`: an OpenNMT-py RNN checkpoint as an
AttnScope checkpoint, read without running its pickle (exit 2 with one line if refused)."""

from __future__ import annotations

import argparse
from pathlib import Path

from attnscope.engine.commands.common import fail
from attnscope.engine.errors import AttnScopeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="OpenNMT-py 3.x checkpoint (.pt)")
    parser.add_argument(
        "-o", "--output", required=True, help="the AttnScope checkpoint to write (.safetensors)"
    )
    parser.add_argument(
        "--src-spm", help="sentencepiece .model the source side was cut with (embedded)"
    )
    parser.add_argument(
        "--tgt-spm", help="sentencepiece .model the target side was cut with (embedded)"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite the output file if it exists"
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.onmt.convert import convert_onmt

    out = Path(args.output)
    if out.suffix.lower() != ".safetensors":
        return fail(f"the output must be a .safetensors file, got {out.name}")
    if out.exists() and not args.force:
        return fail(f"{out} exists; give --force to overwrite it")
    try:
        written = convert_onmt(args.checkpoint, out, src_spm=args.src_spm, tgt_spm=args.tgt_spm)
    except (AttnScopeError, OSError) as exc:
        return fail(str(exc))
    print(written)
    return 0
