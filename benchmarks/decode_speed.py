"""Sentences per second of greedy and beam search for a tiny model, batch 1 and 32.

    python benchmarks/decode_speed.py [--sentences 256] [--threads 1]

A tiny random-weight translation model (bi-GRU 64 encoder, GRU 128 decoder,
additive attention, vocab 1000) decodes random sources of 8–20 tokens,
forced to 20 target tokens so every setting does the same work. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from attnscope.engine.decoding import DecodeConfig, decode
from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model

TARGET_TOKENS = 20


def tiny_model():
    config = ModelConfig(
        src_vocab=1000,
        tgt_vocab=1000,
        embed_dim=64,
        text_encoder=TextEncoderConfig(hidden=64, dropout=0.0),
        attention=AttentionConfig(kind="additive"),
        decoder=DecoderConfig(hidden=128, dropout=0.0),
    )
    torch.manual_seed(0)
    return build_model(config).eval()


def sources(n: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(8, 21, (n,), generator=generator)
    return [torch.randint(4, 1000, (int(length),), generator=generator) for length in lengths]


def sentences_per_second(model, rows, config: DecodeConfig, batch: int) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            lengths = torch.tensor([len(r) for r in chunk])
            src = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
            for j, row in enumerate(chunk):
                src[j, : len(row)] = row
            decode(model, model.encode(src, lengths), config)
    return len(rows) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, rows = tiny_model(), sources(args.sentences)
    figures = {}
    for name, strategy, beam in (("greedy", "greedy", 1), ("beam5", "beam", 5)):
        config = DecodeConfig(
            strategy=strategy,
            beam_size=beam,
            min_length=TARGET_TOKENS,
            max_length=TARGET_TOKENS,
            max_length_ratio=0.0,
            topk_alternatives=0,
        )
        for batch in (1, 32):
            n = rows[: max(32, args.sentences // (8 if batch == 1 else 1))]
            figures[f"{name}_batch{batch}_sent_per_s"] = round(
                sentences_per_second(model, n, config, batch), 1
            )
    figures["threads"] = args.threads
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
