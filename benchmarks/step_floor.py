"""Figure 3 of ``attnscope bench``: the batch-1 greedy step against the weight-bytes limit.

``step_latency`` times ``DecodeSession.step`` (what the GUI's Step calls),
``model.step`` alone, the step's own BLAS calls (captured once with the torch
profiler, ``capture_matmuls``) replayed back to back on pre-allocated tensors
(``gemm_replay``: a hot loop whose weights stay in cache, so not a floor) and,
with ``int8``, the step of the same model with int8 weights (engine/quantize.py).

The limit a batch-1 step cannot beat is reading its matrices once: ``step_bytes``
(the largest operand of each captured product: the weights, and the keys and
values of attention) over the read bandwidth measured in the same run
(``read_bandwidth_gb_s``: a sum over a tensor larger than the caches). int8 weights
read a quarter of the weight bytes. All of it is timed in interleaved runs so a
busy machine slows everything alike.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from attnscope.engine.decoding import DecodeConfig
from benchmarks.workloads import BenchSizes, pad_batch, random_sources, time_call

GEMM_OPS = frozenset(
    {"aten::addmm", "aten::mm", "aten::bmm", "aten::mv", "aten::addmv", "aten::baddbmm"}
)
Shapes = tuple[tuple[int, ...], ...]


def capture_matmuls(fn: Callable[[], Any]) -> list[tuple[str, Shapes]]:
    """The BLAS calls (op name, input shapes) one call of ``fn`` makes, in order."""
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    return [
        (event.name, tuple(tuple(s) for s in event.input_shapes if s))
        for event in prof.events()
        if event.name in GEMM_OPS
    ]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the profiler's C++ side prints start/stop lines there."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="ascii") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _weight_t(rows: int, cols: int) -> torch.Tensor:
    """A (rows, cols) operand laid out as nn.Linear hands it over: weight (cols, rows).t()."""
    return torch.randn(cols, rows).t()


def _replay_addmm(shapes: Shapes) -> Callable[[], Any]:
    bias, (m, k), (_, n) = torch.randn(shapes[0]), shapes[1], shapes[2]
    a, w, out = torch.randn(m, k), _weight_t(k, n), torch.empty(m, n)
    return lambda: torch.addmm(bias, a, w, out=out)


def _replay_mm(shapes: Shapes) -> Callable[[], Any]:
    (m, k), (_, n) = shapes
    a, w, out = torch.randn(m, k), _weight_t(k, n), torch.empty(m, n)
    return lambda: torch.mm(a, w, out=out)


def _replay_bmm(shapes: Shapes) -> Callable[[], Any]:
    a, b = torch.randn(shapes[0]), torch.randn(shapes[1])
    out = torch.empty(shapes[0][0], shapes[0][1], shapes[1][2])
    return lambda: torch.bmm(a, b, out=out)


def _replay_baddbmm(shapes: Shapes) -> Callable[[], Any]:
    bias, a, b = (torch.randn(s) for s in shapes[:3])
    out = torch.empty(shapes[1][0], shapes[1][1], shapes[2][2])
    return lambda: torch.baddbmm(bias, a, b, out=out)


def _replay_mv(shapes: Shapes) -> Callable[[], Any]:
    matrix, vector = torch.randn(shapes[0]), torch.randn(shapes[1])
    out = torch.empty(shapes[0][0])
    return lambda: torch.mv(matrix, vector, out=out)


def _replay_addmv(shapes: Shapes) -> Callable[[], Any]:
    bias, matrix, vector = (torch.randn(s) for s in shapes[:3])
    out = torch.empty(shapes[1][0])
    return lambda: torch.addmv(bias, matrix, vector, out=out)


GEMM_REPLAYS: dict[str, Callable[[Shapes], Callable[[], Any]]] = {
    "aten::addmm": _replay_addmm,
    "aten::mm": _replay_mm,
    "aten::bmm": _replay_bmm,
    "aten::baddbmm": _replay_baddbmm,
    "aten::mv": _replay_mv,
    "aten::addmv": _replay_addmv,
}


def gemm_replay(calls: Sequence[tuple[str, Shapes]]) -> Callable[[], None]:
    """One pass of the bare matrix products of ``calls`` on pre-allocated tensors."""
    replays = [GEMM_REPLAYS[name](shapes) for name, shapes in calls]

    def one_pass() -> None:
        for replay in replays:
            replay()

    return one_pass


def step_bytes(calls: Sequence[tuple[str, Shapes]], element_bytes: int = 4) -> int:
    """Bytes the captured products read from memory: the largest operand of each (the
    weight matrix; the keys or values for attention's products)."""
    return sum(max(math.prod(shape) for shape in shapes) for _, shapes in calls) * element_bytes


def read_bandwidth_gb_s(megabytes: int = 256, repeats: int = 5) -> float:
    """Read bandwidth of this process's threads: the best of ``repeats`` sums over a
    float32 tensor of ``megabytes`` (larger than the caches), in GB/s."""
    data = torch.ones(megabytes * 2**20 // 4)
    best = min(time_call(data.sum) for _ in range(repeats))
    return data.numel() * 4 / best / 1e9


def step_latency(
    model: nn.Module, sizes: BenchSizes, *, source_length: int = 20, int8: bool = False
) -> dict:
    """Batch-1 greedy stepping of ``model`` on a ``source_length``-token sentence.

    Returns samples (ms) for: ``greedy_step_ms`` (DecodeSession.step, what the
    GUI calls), ``model_step_ms`` (model.step alone), ``gemm_floor_ms`` (the
    step's matrix products alone, replayed hot on pre-allocated tensors),
    ``weight_bytes_limit_ms`` (``step_bytes`` over the read bandwidth, measured
    once per run), ``encode_ms`` and, with ``int8``, ``int8_greedy_step_ms``;
    per run one ratio of medians: ``step_vs_floor_ratios``,
    ``step_vs_weight_bytes_ratios`` and (``int8``)
    ``int8_step_vs_weight_bytes_ratios`` (the int8 step against the float32
    limit); ``gemm_calls``, ``step_bytes`` and ``read_bandwidth_gb_s``. Every
    timing is interleaved run by run, so a busy machine slows them alike.
    """
    from attnscope.engine.session import DecodeSession

    source = random_sources(
        1, model.config.src_vocab, lengths=(source_length, source_length), seed=sizes.seed
    )
    src, lengths = pad_batch(source)
    steps = sizes.latency_steps
    config = DecodeConfig(strategy="greedy", max_length=steps, min_length=steps, max_length_ratio=0)
    samples: dict[str, list[float]] = {
        "greedy_step_ms": [],
        "model_step_ms": [],
        "gemm_floor_ms": [],
        "weight_bytes_limit_ms": [],
        "encode_ms": [],
    }
    quantized = None
    if int8:
        from attnscope.engine.quantize import quantize_int8

        quantized, samples["int8_greedy_step_ms"] = quantize_int8(model), []
    ratios: dict[str, list[float]] = {"step_vs_floor_ratios": [], "step_vs_weight_bytes_ratios": []}
    if int8:
        ratios["int8_step_vs_weight_bytes_ratios"] = []
    bandwidths = []
    with torch.inference_mode():
        memory = model.encode(src, lengths)
        state, token = model.init_state(memory), torch.tensor([2])  # bos

        def bare_step() -> None:
            model.step(token, state, memory)

        calls = capture_matmuls(bare_step)
        floor, read = gemm_replay(calls), step_bytes(calls)
        for run in range(sizes.latency_repeats + 1):  # run 0 warms up
            session = DecodeSession(model, memory, config)
            timings = {
                "greedy_step_ms": [time_call(session.step) for _ in range(steps)],
                "model_step_ms": [time_call(bare_step) for _ in range(steps)],
                "gemm_floor_ms": [time_call(floor) for _ in range(steps)],
                "encode_ms": [time_call(lambda: model.encode(src, lengths)) for _ in range(5)],
            }
            if quantized is not None:
                int8_session = DecodeSession(quantized, quantized.encode(src, lengths), config)
                timings["int8_greedy_step_ms"] = [
                    time_call(int8_session.step) for _ in range(steps)
                ]
            bandwidth = read_bandwidth_gb_s()
            timings["weight_bytes_limit_ms"] = [read / (bandwidth * 1e9)]
            if not run:
                continue
            bandwidths.append(bandwidth)
            for key, seconds in timings.items():
                samples[key] += [1000.0 * t for t in seconds]
            step = statistics.median(timings["greedy_step_ms"])
            limit = timings["weight_bytes_limit_ms"][0]
            ratios["step_vs_floor_ratios"].append(
                step / statistics.median(timings["gemm_floor_ms"])
            )
            ratios["step_vs_weight_bytes_ratios"].append(step / limit)
            if quantized is not None:
                int8_step = statistics.median(timings["int8_greedy_step_ms"])
                ratios["int8_step_vs_weight_bytes_ratios"].append(int8_step / limit)
    calls_json = [[name, [list(s) for s in shapes]] for name, shapes in calls]
    return {
        **samples,
        **ratios,
        "gemm_calls": calls_json,
        "step_bytes": read,
        "read_bandwidth_gb_s": bandwidths,
    }
