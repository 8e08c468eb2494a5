"""How much of a batch is real source, cut in file order or from length-sorted windows.

    python -m benchmarks.sorted_batches SOURCE_FILE [--checkpoint CKPT] [--batch-size 32]
        [--decode N [--rounds R]]

For each window size (lines sorted together by engine/batch.py's
``length_sorted_batches``; a window of one batch is file order) it prints the share
of the padded (batch × longest source) grid that holds real source pieces, with the
checkpoint's own tokenizer (default: the bundled de→en model): the padding a sorted
batch saves. ``--decode N`` also decodes the first N lines with the checkpoint's
recommended settings on one thread, in file-order batches and from sorted windows
of 1024 lines, taking turns for R rounds, and prints the seconds of each.
"""

from __future__ import annotations

import argparse
import json
import sys

from attnscope.engine.batch import length_sorted_batches

WINDOWS = (1, 2, 4, 8, 16, 32, 64)  # in batches


def real_share(lengths: list[int], batch_size: int, window_batches: int) -> float:
    """Real pieces over padded grid cells when windows of ``window_batches`` batches are
    sorted by length before being cut into batches."""
    window = batch_size * window_batches
    padded = 0
    for first in range(0, len(lengths), window):
        part = lengths[first : first + window]
        for rows in length_sorted_batches(part, batch_size):
            padded += len(rows) * max(part[i] for i in rows)
    return sum(lengths) / padded


def time_windows(checkpoint: str, lines: list[str], batch_size: int, rounds: int) -> dict:
    """Seconds to decode ``lines`` in file-order batches (a window of one batch) and from
    sorted windows of 1024 lines, taking turns; one thread."""
    import os
    import time
    from dataclasses import replace

    import torch

    from attnscope.engine.batch import translate_windows
    from attnscope.engine.commands.common import recommended_decoding
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    torch.set_num_threads(1)
    model = load_inference_model(checkpoint, device="cpu")
    config = replace(DecodeConfig(max_length_ratio=2.0), **(recommended_decoding(model) or {}))
    seconds: dict[str, list[float]] = {"file_order": [], "sorted_1024": []}
    load = os.getloadavg()[0]
    for _ in range(rounds):
        for name, window in (("file_order", batch_size), ("sorted_1024", 1024)):
            start = time.perf_counter()
            for _ in translate_windows(model, lines, config, batch_size=batch_size, window=window):
                pass
            seconds[name].append(round(time.perf_counter() - start, 2))
    return {"lines": len(lines), "seconds": seconds, "load_average_start": load}


def main(argv: list[str] | None = None) -> int:
    from attnscope.engine.checkpoint import load_checkpoint
    from attnscope.engine.input_files import read_text_lines
    from attnscope.engine.resources import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="one sentence per line (.gz ok)")
    parser.add_argument("--checkpoint", help="whose tokenizer counts the pieces")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--decode", type=int, default=0, metavar="N", help="also time N lines")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.checkpoint or str(default_checkpoint()))
    lines = [line for line in read_text_lines(args.source, what="source").lines if line.strip()]
    lengths = [len(checkpoint.src_tokenizer.encode(line)) + 1 for line in lines]  # + eos
    shares = {
        str(args.batch_size * w): round(real_share(lengths, args.batch_size, w), 3) for w in WINDOWS
    }
    result = {"lines": len(lines), "real_share_by_window_lines": shares}
    if args.decode:
        path = args.checkpoint or str(default_checkpoint())
        result["decode"] = time_windows(path, lines[: args.decode], args.batch_size, args.rounds)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
