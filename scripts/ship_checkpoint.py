"""Copy a trained checkpoint into resources/: fp16 storage, example inputs and scores in its info.

    python scripts/ship_checkpoint.py RUN/best.safetensors resources/checkpoints/NAME.safetensors \
        --examples resources/examples/sentences_de.txt --score test_bleu=... --score ... \
        --recommend strategy=beam --recommend beam_size=5 --recommend length_penalty=gnmt

The weights are unchanged (re-saved through the engine, so a joint vocabulary is
stored once); the app shows ``info["examples"][0]`` as the first source, and the
CLI and the app decode with ``info["recommended_decoding"]`` (DecodeConfig fields, e.g.
the beam and length penalty chosen on validation) unless told otherwise. To change
only the info of a shipped file, tensors untouched, use scripts/set_checkpoint_metadata.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.engine.decoding import DecodeConfig


def _values(items: list[str]) -> dict:
    """``name=value`` strings -> dict, each value JSON if it parses, else the string."""
    values = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            values[name] = json.loads(value)
        except json.JSONDecodeError:
            values[name] = value
    return values


def recommended_decoding(items: list[str]) -> dict:
    """The ``--recommend`` settings, checked by building a DecodeConfig from them."""
    values = _values(items)
    try:
        DecodeConfig(**values)
    except (TypeError, ValueError) as error:  # unknown field / bad value
        raise SystemExit(f"--recommend: {error}") from None
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--examples", help="text file, one example input per line")
    parser.add_argument("--score", action="append", default=[], help="name=value, repeatable")
    parser.add_argument("--note", help="free text stored as info['note']")
    parser.add_argument(
        "--recommend", action="append", default=[], help="name=value of a DecodeConfig field"
    )
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.source)
    info = dict(checkpoint.info)
    if args.examples:
        lines = Path(args.examples).read_text(encoding="utf-8").splitlines()
        info["examples"] = [line.strip() for line in lines if line.strip()]
    scores = {**info.get("scores", {}), **_values(args.score)}
    if args.recommend:
        info["recommended_decoding"] = recommended_decoding(args.recommend)
    if scores:
        info["scores"] = scores
    if args.note:
        info["note"] = args.note
    path = save_checkpoint(
        args.target,
        model=checkpoint.model,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        src_tokenizer=checkpoint.src_tokenizer,
        image_preprocess=checkpoint.image_preprocess,
        info=info,
        storage_dtype=torch.float16,
    )
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
