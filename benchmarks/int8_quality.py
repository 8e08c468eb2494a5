"""int8 against float32 on real data: BLEU and target tokens/s of the same checkpoint.

    python -m benchmarks.int8_quality --src val.de.gz --ref val.en.gz \\
        [--checkpoint CKPT] [--limit N] [--threads 1] [--json OUT]

Both models decode every line with the checkpoint's recommended settings through
engine/batch.py's length-sorted windows (what ``attnscope translate`` does), taking
turns window by window (``--window`` lines each), so a busy machine slows both alike.
int8 is ``engine.quantize.quantize_int8`` of the very same weights (its fast step
calls the int8 products' own ops). Prints one JSON object: BLEU and chrF of each, the
drop, tokens/s of each, their ratio, how many lines changed, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace


def _timed_window(model, lines, config) -> tuple[list[str], int, float]:
    """(texts, target tokens, seconds) of one window."""
    from attnscope.engine.batch import translate_windows

    start = time.perf_counter()
    (outcomes,) = translate_windows(model, lines, config, window=max(len(lines), 1))
    seconds = time.perf_counter() - start
    texts = [getattr(o, "text", "") for o in outcomes]
    tokens = sum(len(o.token_ids) for o in outcomes if hasattr(o, "token_ids"))
    return texts, tokens, seconds


def compare(checkpoint: str, sources: list[str], references: list[str], window: int) -> dict:
    """BLEU, chrF and tokens/s of float32 and int8 on ``sources``, window by window."""
    from attnscope.engine import metrics
    from attnscope.engine.commands.common import recommended_decoding
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.quantize import quantize_int8

    model = load_inference_model(checkpoint, device="cpu")
    config = replace(DecodeConfig(max_length_ratio=2.0), **(recommended_decoding(model) or {}))
    networks = {"fp32": model.model, "int8": quantize_int8(model.model)}
    texts = {name: [] for name in networks}
    tokens, seconds = dict.fromkeys(networks, 0), dict.fromkeys(networks, 0.0)
    for first in range(0, len(sources), window):
        part = sources[first : first + window]
        for name, network in networks.items():
            model.model = network
            done, count, spent = _timed_window(model, part, config)
            texts[name] += done
            tokens[name] += count
            seconds[name] += spent
    result = {"checkpoint": checkpoint, "lines": len(sources), "decoding": config.strategy}
    for name in networks:
        result[name] = {
            "bleu": metrics.bleu(texts[name], references).score,
            "chrf": metrics.chrf(texts[name], references).score,
            "tokens_per_s": tokens[name] / seconds[name],
            "seconds": seconds[name],
        }
    result["bleu_drop"] = result["fp32"]["bleu"] - result["int8"]["bleu"]
    result["int8_vs_fp32_speed"] = result["int8"]["tokens_per_s"] / result["fp32"]["tokens_per_s"]
    result["lines_changed"] = sum(a != b for a, b in zip(texts["fp32"], texts["int8"], strict=True))
    return result


def main(argv: list[str] | None = None) -> int:
    import torch

    from attnscope.engine.input_files import read_text_lines
    from attnscope.engine.resources import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True)
    parser.add_argument("--ref", required=True)
    parser.add_argument("--checkpoint")
    parser.add_argument("--limit", type=int, default=0, help="the first N lines only")
    parser.add_argument("--window", type=int, default=128, help="lines per turn")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sources = read_text_lines(args.src, what="--src").lines
    references = read_text_lines(args.ref, what="--ref").lines
    if args.limit:
        sources, references = sources[: args.limit], references[: args.limit]
    load_start = list(os.getloadavg())
    result = compare(args.checkpoint or str(default_checkpoint()), sources, references, args.window)
    result.update(threads=args.threads, load_average={"start": load_start, "end": os.getloadavg()})
    text = json.dumps(result, indent=2)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
