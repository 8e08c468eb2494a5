"""Average the weights of several checkpoints of one training run into one checkpoint.

    python scripts/average_checkpoints.py RUN/epoch-016.safetensors RUN/epoch-017.safetensors \
        RUN/epoch-018.safetensors --out RUN/averaged.safetensors

Averaging the last few epochs of a run (Vaswani et al. 2017, §6.1; Junczys-Dowmunt
et al. 2016 for RNNs) usually gains a little BLEU for free. The checkpoints must
share the model config and the tokenizers (the same run); floating-point
tensors are averaged in float64, integer buffers (e.g. BatchNorm's batch count)
are taken from the last checkpoint, and the info of the last checkpoint is kept,
with ``averaged_from`` listing the inputs (name and epoch).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from attnscope.engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def _same_run(first: Checkpoint, other: Checkpoint) -> None:
    if other.config != first.config:
        raise ValueError(f"{other.path.name}: model config differs from {first.path.name}'s")
    for side in ("src_tokenizer", "tgt_tokenizer"):
        a, b = getattr(first, side), getattr(other, side)
        if (a is None) != (b is None) or (a is not None and a.to_bytes() != b.to_bytes()):
            raise ValueError(f"{other.path.name}: {side} differs from {first.path.name}'s")


def average_state(checkpoints: Sequence[Checkpoint]) -> dict[str, torch.Tensor]:
    """The element-wise mean of the checkpoints' float tensors (last one's for the rest)."""
    states = [c.model.state_dict() for c in checkpoints]
    averaged = {}
    for name, last in states[-1].items():
        if last.is_floating_point():
            total = sum(state[name].double() for state in states)
            averaged[name] = (total / len(states)).to(last.dtype)
        else:
            averaged[name] = last.clone()
    return averaged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="two or more checkpoints of one run")
    parser.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    parser.add_argument(
        "--storage-dtype", choices=("float32", "float16"), default="float32", help="as stored"
    )
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error("give at least two checkpoints to average")
    checkpoints = [load_checkpoint(path, device="cpu") for path in args.checkpoints]
    for other in checkpoints[1:]:
        _same_run(checkpoints[0], other)
    last = checkpoints[-1]
    last.model.load_state_dict(average_state(checkpoints))
    info = dict(last.info)
    info["averaged_from"] = [
        {"file": c.path.name, "epoch": c.info.get("epoch")} for c in checkpoints
    ]
    path = save_checkpoint(
        Path(args.out),
        model=last.model,
        tgt_tokenizer=last.tgt_tokenizer,
        src_tokenizer=last.src_tokenizer,
        image_preprocess=last.image_preprocess,
        info=info,
        storage_dtype=getattr(torch, args.storage_dtype),
    )
    print(f"{path}: mean of {len(checkpoints)} checkpoints, {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
