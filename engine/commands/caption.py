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
from attnscope.engine.input_files import display_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_decode_arguments(parser)
    parser.add_argument("images", nargs="+", help="image files or folders of images")
    parser.add_argument(
        "--prompt",
        default="",
        help="text the caption continues, e.g. 'a picture of' (Hugging Face captioners: BLIP)",
    )


def expand_images(items: list[str]) -> list[Path]:
    """Files as given; folders replaced by their images, sorted by name."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            try:
                found = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            except OSError as exc:
                raise ValueError(
                    f"cannot list folder {display_path(path)}: {exc.strerror}"
                ) from exc
            paths.extend(sorted(found))
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
    if args.prompt:
        if not hasattr(model, "with_prompt"):
            return fail("--prompt needs a Hugging Face captioner folder (e.g. BLIP)")
        try:
            model = model.with_prompt(args.prompt)
        except AttnScopeError as exc:
            return fail(str(exc))
    status = 0
    named = {"model": args.checkpoint, "settings": config}  # what every --json record names
    try:
        paths = expand_images(args.images)
    except ValueError as exc:
        return fail(str(exc))
    for path in paths:
        name = display_path(path)  # a file name that is not UTF-8 shows its bytes as \xNN
        try:
            caption = model.caption(path, config)
        except AttnScopeError as exc:
            if args.json:
                print_json_line(
                    no_decode_record(task=CAPTIONING, source=name, error=str(exc), **named)
                )
            else:
                print(f"attnscope: {name}: {exc}", file=sys.stderr, flush=True)
            status = 1
            continue
        if args.json:
            print_json_line(caption_record(caption, source=name, **named))
        else:
            print(f"{name}\t{caption.text}", flush=True)
    return status
