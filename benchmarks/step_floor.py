"""Figure 3 of ``attnscope bench``: the batch-1 greedy step against its matrix-product floor.

``step_latency`` times ``DecodeSession.step`` (what the GUI's Step calls),
``model.step`` alone and the floor: the step's own BLAS calls, captured once
with the torch profiler (``capture_matmuls``) and replayed back to back on
pre-allocated tensors of the same shapes and layouts (``gemm_replay``), the
time no implementation of the step beats on this CPU. The three are timed in
interleaved runs so a busy machine slows them alike.
"""

from __future__ import annotations

import contextlib
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


def step_latency(model: nn.Module, sizes: BenchSizes, *, source_length: int = 20) -> dict:
    """Batch-1 greedy stepping of ``model`` on a ``source_length``-token sentence.

    Returns samples (ms) for: ``greedy_step_ms`` (DecodeSession.step, what the
    GUI calls), ``model_step_ms`` (model.step alone), ``gemm_floor_ms`` (the
    step's matrix products alone, replayed on pre-allocated tensors) and
    ``encode_ms``; ``step_vs_floor_ratios``, one ratio of medians per run;
    and ``gemm_calls``, the products the floor replays. The three step
    timings are interleaved run by run, so a busy machine slows them alike.
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
        "encode_ms": [],
    }
    with torch.inference_mode():
        memory = model.encode(src, lengths)
        state, token = model.init_state(memory), torch.tensor([2])  # bos

        def bare_step() -> None:
            model.step(token, state, memory)

        calls = capture_matmuls(bare_step)
        floor, ratios = gemm_replay(calls), []
        for run in range(sizes.latency_repeats + 1):  # run 0 warms up
            session = DecodeSession(model, memory, config)
            timings = {
                "greedy_step_ms": [time_call(session.step) for _ in range(steps)],
                "model_step_ms": [time_call(bare_step) for _ in range(steps)],
                "gemm_floor_ms": [time_call(floor) for _ in range(steps)],
                "encode_ms": [time_call(lambda: model.encode(src, lengths)) for _ in range(5)],
            }
            if run:
                for key, seconds in timings.items():
                    samples[key] += [1000.0 * t for t in seconds]
                ratios.append(
                    statistics.median(timings["greedy_step_ms"])
                    / statistics.median(timings["gemm_floor_ms"])
                )
    calls_json = [[name, [list(s) for s in shapes]] for name, shapes in calls]
    return {**samples, "step_vs_floor_ratios": ratios, "gemm_calls": calls_json}
