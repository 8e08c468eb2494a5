"""`attnscope caption -c CKPT IMAGE...`: one caption per image (folders are expanded)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attnscope.engine.commands.common import (
    add_decode_arguments,
    config_from_options,
    decode_config_from_args,
    fail,
    print_json_line,
    recommended_decoding,
)
from attnscope.engine.decode_record import CAPTIONING, caption_record, no_decode_record
from attnscope.engine.errors import AttnScopeError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    parser.add_argument("images", nargs="+", help="image files or folders of images")


def expand_images(items: list[str]) -> list[Path]:
    """Files as given; folders replaced by their images, sorted by name."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            paths.append(path)
    return paths


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.inference import load_inference_model

    try:
        config_from_options(args, text=False)  # bad options fail before the load
        model = load_inference_model(args.checkpoint, device=args.device)
        config = decode_config_from_args(args, text=False, recommended=recommended_decoding(model))
    except (AttnScopeError, ValueError, OSError) as exc:
        return fail(str(exc))
    if model.task != "captioning":
        return fail(f"{args.checkpoint} is a {model.task} model; use `attnscope translate`")
    status = 0
    named = {"model": args.checkpoint, "settings": config}  # what every --json record names
    for path in expand_images(args.images):
        try:
            caption = model.caption(path, config)
        except AttnScopeError as exc:
            if args.json:
                print_json_line(
                    no_decode_record(task=CAPTIONING, source=path, error=str(exc), **named)
                )
            else:
                print(f"attnscope: {path}: {exc}", file=sys.stderr, flush=True)
            status = 1
            continue
        if args.json:
            print_json_line(caption_record(caption, source=path, **named))
        else:
            print(f"{path}\t{caption.text}", flush=True)
    return status
