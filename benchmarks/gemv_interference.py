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

``--per-product`` prints instead one line per product: its time hot (repeated
back to back) and cold (after a 64 MB write evicts the caches, as a step's ~20 MB
of weights mostly are when the next step reads them), the bytes of its largest
operand and the rate it reads them at cold, beside the read bandwidth of a sum
(``step_floor.read_bandwidth_gb_s``, the weight-bytes limit's denominator). A
weight product also runs cold on an input-major (in, out) copy of its weight:
MKL's other matrix-vector kernel, which rounds differently at batch 1, so it shows
what the layout costs, not a drop-in for the bit-identical step.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.step_floor import GEMM_REPLAYS, Shapes, read_bandwidth_gb_s
from benchmarks.workloads import time_call

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


EVICT_MB = 64  # larger than this machine's caches (L3: 32 MB)
HOT_REPEATS = 20  # back-to-back calls per hot sample; the median is kept


def _input_major(name: str, shapes: Shapes) -> Callable[[], object] | None:
    """The weight product of ``shapes`` on an (in, out) contiguous weight; None for the
    attention's products (no weight)."""
    if name == "aten::addmm":
        bias, (m, k), (_, n) = torch.randn(shapes[0]), shapes[1], shapes[2]
        a, w, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        return lambda: torch.addmm(bias, a, w, out=out)
    if name == "aten::mm" and shapes[1][1] > 1:  # not the additive score (a vector)
        (m, k), (_, n) = shapes
        a, w, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
        return lambda: torch.mm(a, w, out=out)
    return None


def _cold_time(product: Callable[[], object], evict: torch.Tensor) -> float:
    """Seconds of one call of ``product`` right after ``evict`` was written over."""
    evict.add_(1.0)
    start = time.perf_counter()
    product()
    return time.perf_counter() - start


def per_product(rounds: int) -> list[dict]:
    """Per product of DEMO_STEP: hot and cold µs, its largest operand's bytes and cold
    GB/s, and the input-major copy's cold µs (None for the attention's products); the
    sum's read bandwidth under ``sum_gb_s``. Medians of ``rounds`` interleaved rounds."""
    evict = torch.zeros(EVICT_MB * 2**20 // 4)
    rows = []
    for name, shapes in DEMO_STEP:
        product, other = GEMM_REPLAYS[name](shapes), _input_major(name, shapes)
        hot, cold, input_major = [], [], []
        for _ in range(rounds):
            cold.append(_cold_time(product, evict))
            if other is not None:
                input_major.append(_cold_time(other, evict))
            product()
            hot.append(statistics.median(time_call(product) for _ in range(HOT_REPEATS)))
        size = max(math.prod(shape) for shape in shapes) * 4
        rows.append(
            {
                "product": f"{name} {list(map(list, shapes))}",
                "hot_us": 1e6 * statistics.median(hot),
                "cold_us": 1e6 * statistics.median(cold),
                "bytes": size,
                "cold_gb_s": size / statistics.median(cold) / 1e9,
                "input_major_cold_us": 1e6 * statistics.median(input_major) if other else None,
            }
        )
    bandwidth = read_bandwidth_gb_s()
    for row in rows:
        row["sum_gb_s"] = bandwidth
    return rows


def _print_per_product(rows: list[dict]) -> None:
    print(f"{'product':52s}   hot µs  cold µs     MB  cold GB/s  input-major cold µs")
    for row in rows:
        other = row["input_major_cold_us"]
        print(
            f"{row['product'][:52]:52s} {row['hot_us']:8.1f} {row['cold_us']:8.1f} "
            f"{row['bytes'] / 1e6:6.2f} {row['cold_gb_s']:10.1f}  "
            + ("-" if other is None else f"{other:.1f}")
        )
    total = sum(row["cold_us"] for row in rows)
    limit = sum(row["bytes"] for row in rows) / (rows[0]["sum_gb_s"] * 1e3)
    print(
        f"cold total {total:.0f} µs; the bytes at the sum's {rows[0]['sum_gb_s']:.1f} GB/s: "
        f"{limit:.0f} µs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--per-product",
        action="store_true",
        help="each product hot and cold against its bytes, instead of the settings",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.per_product:
        _print_per_product(per_product(args.rounds))
        return
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
