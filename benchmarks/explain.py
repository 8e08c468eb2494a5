"""What attribution costs (issue 17): batched ``explain`` against a naive loop, same run.

On a translation model (``attnscope bench``: the default de->en one) and a source of
``source_tokens`` pieces (eos not counted) with an output forced to ``output_tokens``
pieces (greedy with ``min_length``, so no eos):

- ``ig_step_s``: integrated gradients with ``points`` points for one target step (the
  last, which decodes the whole output);
- ``ig_output_s``: integrated gradients for every step of the output;
- ``saliency_output_s``: saliency for every step;

each beside the same attribution computed naively: one input row at a time, for each
step and each interpolation point a teacher-forced pass over the whole output and a
backward pass (``*_vs_naive_ratio``: naive time / batched time). Batched and naive take
turns within each repetition, so a busy machine slows both alike. The naive loop is
checked to give the batched result, so the ratio compares equal work. Wall and CPU
seconds are both kept: on a shared machine the CPU time of a one-thread run is what
an idle machine's wall time would be.

    python -m benchmarks.explain [--checkpoint CKPT] [--repeats N]

prints the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# torch and the engine are imported where they are used: `attnscope bench` imports this
# module to list its figures before anything is measured
EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples" / "sentences_de.txt"
FIGURES = ("ig_step", "ig_output", "saliency_output")


def source_of_length(model: Any, pieces: int) -> str:
    """A text of the example sentences' words with ``pieces`` source pieces (eos not
    counted), or the closest shorter one when no word boundary gives exactly that."""
    words = EXAMPLES.read_text(encoding="utf-8").split()
    best = words[0]
    for end in range(1, len(words) + 1):
        text = " ".join(words[:end])
        count = len(model.source_ids(text)) - 1
        if count > pieces:
            break
        best = text
    return best


def forced_output(model: Any, source: str, length: int) -> tuple[int, ...]:
    """The greedy output of ``source`` held to exactly ``length`` tokens (no eos)."""
    from attnscope.engine.decoding import DecodeConfig

    opened = model.open_session(source, DecodeConfig(min_length=length, max_length=length))
    opened.run()
    return tuple(opened.session.tokens)


def naive(model: Any, source: str, tokens, method: str, steps, points: int) -> np.ndarray:
    """(len(steps), S) attributions one row at a time: per step and per point, a forward
    over the whole output and a backward of that step's target."""
    import torch

    from attnscope.engine.explain.methods import gauss_legendre
    from attnscope.engine.explain.target import TargetFunction

    ids = torch.tensor([model.source_ids(source)], device=model.device)
    target = TargetFunction(model.model, source=ids, tokens=tokens)
    embedding = model.model.encoder.embedding
    with torch.no_grad():
        inputs = embedding(ids)  # (1, S, E)
        pad = embedding(torch.zeros_like(ids))
    if method == "saliency":
        alphas, weights, start = np.ones(1), np.ones(1), torch.zeros_like(inputs)
    else:
        (alphas, weights), start = gauss_legendre(points), pad
    rows = []
    for step in steps:
        total = torch.zeros_like(inputs)
        for alpha, weight in zip(alphas, weights, strict=True):
            point = (start + float(alpha) * (inputs - start)).requires_grad_(True)
            with torch.enable_grad():
                (grad,) = torch.autograd.grad(target.values(point)[0, step], point)
            total += float(weight) * grad
        if method == "saliency":
            rows.append(total[0].norm(dim=-1))
        else:
            rows.append(((inputs - pad) * total)[0].sum(dim=-1))
    return torch.stack(rows).numpy()


def _timed(work) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, the result) of ``work()``."""
    start, cpu = time.perf_counter(), time.process_time()
    result = work()
    return time.perf_counter() - start, time.process_time() - cpu, result


def measure(
    model: Any,
    *,
    source_tokens: int = 20,
    output_tokens: int = 20,
    points: int = 32,
    repeats: int = 3,
    naive_for: tuple[str, ...] = FIGURES,
) -> dict[str, Any]:
    """Seconds of each figure, batched and naive, ``repeats`` times (model: an
    InferenceModel for translation); the ratios per repetition. ``naive_for``: the
    figures whose naive loop runs (IG over a whole output takes T x points passes)."""
    import torch

    from attnscope.engine.explain import explain

    source = source_of_length(model, source_tokens)
    tokens = forced_output(model, source, output_tokens)
    last = len(tokens) - 1
    every = list(range(len(tokens)))
    cases = {
        "ig_step": ("ig", [last]),
        "ig_output": ("ig", every),
        "saliency_output": ("saliency", every),
    }
    seconds: dict[str, list[float]] = {f"{name}_s": [] for name in cases}
    seconds |= {f"naive_{name}_s": [] for name in cases}
    cpu_seconds: dict[str, list[float]] = {key: [] for key in seconds}
    ratios: dict[str, list[float]] = {f"{name}_vs_naive_ratio": [] for name in cases}
    explain(model, source, tokens, method="saliency", steps=[0])  # warm-up
    for _ in range(repeats):
        for name, (method, steps) in cases.items():
            fast, fast_cpu, result = _timed(
                lambda m=method, s=steps: explain(
                    model, source, tokens, method=m, steps=s, ig_steps=points
                )
            )
            seconds[f"{name}_s"].append(fast)
            cpu_seconds[f"{name}_s"].append(fast_cpu)
            if name not in naive_for:
                continue
            slow, slow_cpu, rows = _timed(
                lambda m=method, s=steps: naive(model, source, tokens, m, s, points)
            )
            np.testing.assert_allclose(result.scores, rows, rtol=1e-3, atol=1e-5)
            seconds[f"naive_{name}_s"].append(slow)
            cpu_seconds[f"naive_{name}_s"].append(slow_cpu)
            ratios[f"{name}_vs_naive_ratio"].append(slow / fast)
    return {
        "source": source,
        "source_pieces": len(model.source_ids(source)) - 1,
        "output_tokens": len(tokens),
        "ig_points": points,
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "ratios": ratios,
    }


KEYS = (
    "ig_step_s",
    "ig_output_s",
    "saliency_output_s",
    "ig_step_vs_naive_ratio",
    "ig_output_vs_naive_ratio",
    "saliency_output_vs_naive_ratio",
)
# per bench size: measure()'s workload (quick leaves out the naive IG over a whole output)
SIZES: dict[str, dict[str, Any]] = {
    "full": {},
    "quick": {"repeats": 1, "naive_for": ("ig_step", "saliency_output")},
    "tiny": {"source_tokens": 6, "output_tokens": 4, "points": 4, "repeats": 1},
}


def measure_attribution(ctx: Any, report: Any) -> None:
    """The ``attribution`` figure group of ``attnscope bench`` (benchmarks/command.py):
    ``KEYS`` on the given or default checkpoint, in-process."""
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import default_checkpoint

    checkpoint = ctx.checkpoint or default_checkpoint()
    if checkpoint is None:
        report.unmeasured(KEYS, "needs a checkpoint: none given and none bundled")
        return
    model = load_inference_model(checkpoint, device="cpu")
    if model.task != "translation":
        report.unmeasured(KEYS, f"{checkpoint} is a {model.task} model; these figures are text's")
        return
    result = measure(model, **SIZES[ctx.size])
    report.figures["attribution"] = result
    for name in FIGURES:
        report.add_samples(f"{name}_s", result["seconds"][f"{name}_s"])
        report.values[f"{name}_s"] = report.median(f"{name}_s")
        key = f"{name}_vs_naive_ratio"
        if result["ratios"][key]:
            report.ratio(key, result["ratios"][key])
        else:
            report.notes[key] = f"{ctx.size}: the naive loop runs in the full bench only"


def main(argv: list[str] | None = None) -> int:
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import default_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="default: the bundled default")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    model = load_inference_model(args.checkpoint or default_checkpoint(), device="cpu")
    json.dump(measure(model, repeats=args.repeats), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
