"""What a breakpoint check costs next to the batch-1 step it follows (issue 18: at most 5 %).

The app's Run asks ``Breakpoints.stop_hook`` after every step of the session it
shows. This decodes the bundled example sentences step by step, as the app does
(``InferenceModel.open_session``, one ``OpenSession.step()`` at a time), with
every kind of condition switched on at once (the worst case), and times each
step and each check right after it, so both see the same machine load:

- ``check_vs_step_ratio``: total check time / total step time over every step;
- ``median_ratio``: median check / median step;
- ``step_ms`` and ``check_us``: their medians, p95 and maxima.

    python -m benchmarks.breakpoints [--checkpoint CKPT] [--repeats N] [--beam K]

prints the figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attnscope.engine.debugger.breakpoints import CONDITIONS, Breakpoints
from attnscope.engine.decoding import DecodeConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples" / "sentences_de.txt"


# parameters that let each kind fire now and then; a kind not listed runs with its defaults
FIRING_PARAMETERS: dict[str, dict[str, Any]] = {
    "entropy": {"threshold": 2.0},
    "low_probability": {"p": 0.3},
    "repeated_ngram": {"n": 2},
    "stuck_attention": {"k": 3},
    "uncovered_at_eos": {"threshold": 0.5},
    "over_covered": {"tau": 1.5},
    "no_eos": {"max_steps": 30, "length_ratio": 2.0},
    "token": {"piece": "▁the"},
}


def every_condition() -> tuple:
    """One condition of each kind in the registry (``CONDITIONS``), with FIRING_PARAMETERS."""
    return tuple(
        condition(**FIRING_PARAMETERS.get(kind, {})) for kind, condition in CONDITIONS.items()
    )


def _spread(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
        "max": round(ordered[-1], 4),
    }


def breakpoint_cost(
    model: Any, sentences: Sequence[str], *, config: DecodeConfig, repeats: int = 3
) -> dict[str, Any]:
    """Time every session step and the breakpoint check after it (``model``: an
    InferenceModel); the figures described in the module docstring."""
    conditions = every_condition()
    step_ns: list[int] = []
    check_ns: list[int] = []
    fired = 0
    for _ in range(repeats):
        for sentence in sentences:
            opened = model.open_session(sentence, config)
            breakpoints = Breakpoints(conditions)
            hook = breakpoints.stop_hook(opened)
            while not opened.done:
                start = time.perf_counter_ns()
                step_result = opened.step()
                stepped = time.perf_counter_ns()
                hook(step_result)
                step_ns.append(stepped - start)
                check_ns.append(time.perf_counter_ns() - stepped)
            fired += len(breakpoints.hits)
    return {
        "check_vs_step_ratio": round(sum(check_ns) / sum(step_ns), 5),
        "median_ratio": round(statistics.median(check_ns) / statistics.median(step_ns), 5),
        "step_ms": _spread([ns / 1e6 for ns in step_ns]),
        "check_us": _spread([ns / 1e3 for ns in check_ns]),
        "steps": len(step_ns),
        "hits": fired,
        "strategy": config.strategy,
        "beam_size": config.beam_size if config.strategy == "beam" else 1,
        "conditions": [c.to_dict() for c in conditions],
    }


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from attnscope.engine.devices import configure_threads
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import DEFAULT_CHECKPOINT, resource_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="translation checkpoint (default: the bundled demo)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the sentences")
    parser.add_argument("--beam", type=int, default=0, help="beam size (default: greedy)")
    args = parser.parse_args(argv)
    path = args.checkpoint or str(resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT)
    model = load_inference_model(path, device="cpu")
    sentences = EXAMPLES.read_text(encoding="utf-8").splitlines()
    strategy = {"strategy": "beam", "beam_size": args.beam} if args.beam > 1 else {}
    previous = torch.get_num_threads()
    threads = configure_threads(reserve_for_gui=1)  # as the app's worker
    try:
        model.open_session(sentences[0], DecodeConfig()).run()  # warm-up
        figures = breakpoint_cost(
            model, sentences, config=DecodeConfig(**strategy), repeats=max(args.repeats, 1)
        )
    finally:
        torch.set_num_threads(previous)
    figures.update(model=Path(path).name, threads=threads)
    json.dump(figures, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
