"""How much slower the step's matrix products run when other work sits between them.

The step-latency figure divides a batch-1 greedy step by the bare matrix
products of that step replayed back to back (``benchmarks.step_floor.gemm_replay``).
Those products are matrix-vector products that stream ~20 MB of weights, so
their speed depends on what the caches still hold. This script replays the
same products (the de->en demo step's shapes) and times only them, with
nothing, with an idle wait, or with an elementwise op of growing size between
consecutive products:

    python -m benchmarks.gemv_interference [--rounds 15]   # from the checkout's root

A product preceded by work that touches memory runs slower than the same
product in a tight loop; the step's attention, softmax, top-k and Python
bookkeeping are such work. Prints one line per setting: the median time of
the products alone (ms per pass) and its ratio to the tight loop.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.step_floor import GEMM_REPLAYS

# (op, input shapes) of one step of the bundled de->en model, as ``attnscope bench`` captures
DEMO_STEP = [
    ("aten::mm", ((1, 512), (512, 512))),
    ("aten::mm", ((20, 512), (512, 1))),
    ("aten::bmm", ((1, 1, 20), (1, 20, 512))),
    ("aten::addmm", ((1536,), (1, 768), (768, 1536))),
    ("aten::addmm", ((1536,), (1, 512), (512, 1536))),
    ("aten::addmm", ((512,), (1, 1024), (1024, 512))),
    ("aten::addmm", ((256,), (1, 512), (512, 256))),
    ("aten::addmm", ((8000,), (1, 256), (256, 8000))),
]
PASSES = 50  # passes per setting and round; the median is kept


def _tanh_between(rows: int, cols: int) -> Callable[[], None]:
    """An elementwise op over a (rows, cols) float32 tensor: touches 2·rows·cols·4 bytes."""
    source, target = torch.randn(rows, cols), torch.empty(rows, cols)
    return lambda: torch.tanh(source, out=target)


def _idle(microseconds: float) -> Callable[[], None]:
    """A busy wait that touches no memory."""

    def wait() -> None:
        end = time.perf_counter() + microseconds * 1e-6
        while time.perf_counter() < end:
            pass

    return wait


SETTINGS: dict[str, Callable[[], None] | None] = {
    "back to back (the floor)": None,
    "40 µs idle wait between": _idle(40),
    "tanh 1×512 between (4 KB)": _tanh_between(1, 512),
    "tanh 20×512 between (80 KB, an attention energy)": _tanh_between(20, 512),
    "tanh 64×1024 between (512 KB)": _tanh_between(64, 1024),
}


def products_time(replays: list[Callable[[], object]], between: Callable[[], None] | None) -> float:
    """Seconds spent in the products alone during one pass (``between`` runs untimed)."""
    total = 0.0
    for replay in replays:
        if between is not None:
            between()
        start = time.perf_counter()
        replay()
        total += time.perf_counter() - start
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    replays = [GEMM_REPLAYS[name](shapes) for name, shapes in DEMO_STEP]
    medians: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.rounds):  # settings interleaved, so a busy machine slows them alike
        for name, between in SETTINGS.items():
            passes = [products_time(replays, between) for _ in range(PASSES)]
            medians[name].append(1000.0 * statistics.median(passes))
    floor = statistics.median(medians["back to back (the floor)"])
    print(f"{'setting':52s} products ms/pass  × floor")
    for name, values in medians.items():
        value = statistics.median(values)
        print(f"{name:52s} {value:16.3f}  {value / floor:7.2f}")


if __name__ == "__main__":
    main()
