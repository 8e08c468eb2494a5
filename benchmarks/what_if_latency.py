"""How long the first new token takes after an attention edit (issue 18: target <= 100 ms).

    OMP_NUM_THREADS=1 python -m benchmarks.what_if_latency

``attnscope bench`` reports the default model's greedy median (``what_if_first_token_ms``).

For each translation checkpoint named below and greedy / beam 5: open a session on each
example sentence, decode it to the end, then pin the attention of its middle step on
another source position and time ``edit_attention`` (rewind + the edited step: the
first new token) and that plus the view record (``snapshot()``, what the worker sends
the GUI). Prints the median and the worst over sentences and repeats. CPU, one thread.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ("deen-bahdanau.safetensors", "deen-multihead.safetensors")
REPEATS = 5


def _time_edits(opened, step: int, weights: np.ndarray) -> tuple[list[float], list[float]]:
    """(ms to the edited step's token, ms including the view record), REPEATS times."""
    first, shown = [], []
    for _ in range(REPEATS):
        start = time.perf_counter()
        opened.edit_attention(step, weights)
        first.append((time.perf_counter() - start) * 1000)
        opened.snapshot()
        shown.append((time.perf_counter() - start) * 1000)
    return first, shown


def measure(checkpoint: str | Path, config, sentences: list[str]) -> dict[str, list[float]]:
    """Times (ms) of pinning each sentence's middle step: ``first`` (the edited step's token)
    and ``shown`` (with the view record)."""
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.interventions import pin

    model = load_inference_model(checkpoint, device="cpu")
    first, shown = [], []
    for sentence in sentences:
        opened = model.open_session(sentence, config)
        steps = opened.run()
        step = len(steps) // 2
        row = steps[step].best_attention  # (heads, S)
        target = int(np.argsort(row.sum(axis=0))[-2])  # not where it looked most
        a, b = _time_edits(opened, step, pin(row, target))
        first += a
        shown += b
    return {"first": first, "shown": shown}


def example_sentences(count: int = 6) -> list[str]:
    lines = (ROOT / "resources/examples/sentences_de.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip()][:count]


def main() -> None:
    from attnscope.engine.decoding import DecodeConfig

    torch.set_num_threads(1)
    sentences = example_sentences()
    configs = {"greedy": DecodeConfig(), "beam5": DecodeConfig(strategy="beam", beam_size=5)}
    for name in CHECKPOINTS:
        for label, config in configs.items():
            times = measure(ROOT / "resources/checkpoints" / name, config, sentences)
            first, shown = times["first"], times["shown"]
            print(
                f"{name} {label}: first new token median {statistics.median(first):.1f} ms, "
                f"worst {max(first):.1f} ms; with the view record median "
                f"{statistics.median(shown):.1f} ms, worst {max(shown):.1f} ms "
                f"({len(first)} edits)"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
