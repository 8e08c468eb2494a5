"""`attnscope bench [--quick] [--json OUT]`: measure, print a table, write the figures as JSON.

``attnscope bench`` (engine/commands/bench.py) finds this package in the
source checkout and hands its arguments here; ``python -m benchmarks`` from
the checkout's root does the same without the ``attnscope`` command.

Figures (each a median of several repetitions, with its spread under ``figures``):

- ``beam_vs_naive_ratio``: batched beam search (batch 32, beam 5, 50 forced
  tokens) vs benchmarks/naive_beam.py, in target tokens/s.
- ``beam_vs_opennmt_ratio``: the same workload vs OpenNMT-py 3.5.1, run by
  benchmarks/opennmt_peer.py in its own venv (benchmarks/setup_opennmt_peer.sh).
  The three systems take turns, one pass each per round, so a busy machine
  slows them alike.
- ``greedy_step_ms`` and ``step_vs_weight_bytes_ratio``: the demo model's batch-1
  greedy step, and its ratio to the time reading its matrices once takes at the
  read bandwidth measured in the same run; ``int8_step_vs_weight_bytes_ratio``:
  the int8 step against the same float32 limit; also the time to encode a
  20-token sentence.
- ``rss_mb`` / ``rss_all_checkpoints_mb``: resident memory in a fresh process
  after loading the default / every bundled checkpoint.
- ``gui_step_p95_ms``, ``gui_max_stall_ms``, ``heatmap_200_update_ms`` and
  ``startup_s``: from ``benchmarks/gui_bench.py CHECKPOINT --json OUT`` when
  a checkpoint is given or bundled (benchmarks/gui_figures.py's ``GUI_FIGURES`` says
  where its JSON holds each one).
- ``explain_stall_ms``: the longest event-loop stall while the Explain panel's
  attribution (saliency, IG) runs on the whole output, from
  ``benchmarks/explain_gui.py`` (its ``idle_stall_ms`` is the machine's own).
- ``ig_step_s``, ``ig_output_s``, ``saliency_output_s`` and each one's
  ``*_vs_naive_ratio``: integrated gradients (32 points) for one step and for a whole
  20-token output of a 20-piece source, and saliency for the whole output, on the
  default model, against a one-row-at-a-time loop in the same run (group
  ``attribution``, benchmarks/explain.py; CPU seconds beside wall seconds in figures).
- ``hf_greedy_step_ms``, ``hf_greedy_vs_generate_ratio`` and ``hf_beam_vs_generate_ratio``:
  a random Marian-base-sized Hugging Face folder through the app's loader against its
  own ``generate()``, batch-1 greedy and beam 5 x batch 8 (group ``hf``, benchmarks/hf.py).

A figure that cannot be measured is null with the reason under ``notes``.
Timings are wall clock on whatever else the machine is doing: read the
spreads and ``machine.load_average``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.explain import KEYS as ATTRIBUTION_KEYS
from benchmarks.explain import measure_attribution
from benchmarks.gui_figures import KEYS as GUI_KEYS
from benchmarks.gui_figures import measure_gui
from benchmarks.hf import KEYS as HF_KEYS
from benchmarks.hf import measure_hf
from benchmarks.real_data import KEYS as REAL_DATA_KEYS
from benchmarks.real_data import measure_real_data
from benchmarks.report import (
    TOP_LEVEL_KEYS,
    BenchContext,
    Report,
    format_table,
    machine_info,
)
from benchmarks.subprocesses import checkout_env, run_json
from benchmarks.throughput import RATIOS, measure_throughput

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer sentences (under 3 minutes)")
    size.add_argument("--tiny", action="store_true", help="toy sizes, for tests only")
    parser.add_argument("--json", metavar="OUT", help="write the figures as JSON ('-' = stdout)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for the throughput figures (default: all cores but one, as the app)",
    )
    parser.add_argument(
        "--checkpoint",
        help="demo checkpoint for the step latency (default: the bundled de→en demo)",
    )
    parser.add_argument(
        "--peer-python",
        help="python of the OpenNMT-py venv (default: $ATTNSCOPE_PEER_VENV/bin/python "
        "or ~/.cache/attnscope-peer/venv/bin/python)",
    )
    parser.add_argument(
        "--val-src", metavar="FILE", help="real source sentences for the val group (.gz ok)"
    )
    parser.add_argument("--val-ref", metavar="FILE", help="their references, line-aligned")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="FIGURE",
        help="skip a figure group (repeatable): " + ", ".join(SKIPPABLE),
    )


# -- figure groups ------------------------------------------------------------------------
def _latency(ctx: BenchContext, report: Report) -> None:
    import torch

    from attnscope.engine.devices import configure_threads
    from benchmarks.step_floor import step_latency

    model, source = _demo_model(ctx, report)
    previous = torch.get_num_threads()
    report.machine["latency_threads"] = configure_threads(reserve_for_gui=1)  # as the GUI worker
    try:
        samples = step_latency(model, ctx.sizes, int8=True)
    finally:
        torch.set_num_threads(previous)
    names = ("greedy_step_ms", "int8_greedy_step_ms", "model_step_ms", "weight_bytes_limit_ms")
    for name in (*names, "gemm_floor_ms", "read_bandwidth_gb_s"):
        report.add_samples(name, samples[name])
    report.add_samples("encode_20_tokens_ms", samples["encode_ms"])
    report.workload["latency"] = {
        "model": source,
        "gemm_calls": samples["gemm_calls"],
        "step_bytes": samples["step_bytes"],
    }
    report.values["greedy_step_ms"] = report.median("greedy_step_ms")
    report.ratio("step_vs_weight_bytes_ratio", samples["step_vs_weight_bytes_ratios"])
    report.ratio("int8_step_vs_weight_bytes_ratio", samples["int8_step_vs_weight_bytes_ratios"])


def _demo_model(ctx: BenchContext, report: Report) -> tuple[Any, str]:
    from attnscope.engine.resources import DEFAULT_CHECKPOINT, resource_dir

    path = ctx.checkpoint or str(resource_dir() / "checkpoints" / DEFAULT_CHECKPOINT)
    problem = f"{path} not found"
    if Path(path).is_file() and ctx.size != "tiny":
        from attnscope.engine.checkpoint import load_checkpoint
        from attnscope.engine.errors import CheckpointError

        try:
            loaded = load_checkpoint(path)
        except CheckpointError as exc:
            problem = str(exc)
        else:
            if loaded.task == "translation":
                return loaded.model, str(path)
            problem = f"{path} is a {loaded.task} checkpoint, not a translation one"
    from benchmarks import workloads

    config = workloads.demo_model_config(ctx.sizes.vocab, ctx.sizes.width_divisor)
    report.notes["greedy_step_ms"] = (
        f"{problem}: measured a random-weight model of the intended demo architecture "
        "(bi-GRU 256 encoder, GRU 512 decoder, additive attention, embed 256, vocab 8000)"
    )
    return workloads.random_model(config, ctx.sizes.seed), "random demo architecture"


def _memory(ctx: BenchContext, report: Report) -> None:
    from attnscope.engine.resources import checkpoints, default_checkpoint

    default, every = default_checkpoint(), checkpoints()
    if default is None:
        report.unmeasured(
            ("rss_mb", "rss_all_checkpoints_mb"),
            "no bundled checkpoint (resources/checkpoints/ holds no .safetensors file yet)",
        )
        return
    probe = "import json, sys; from benchmarks.workloads import rss_after_loading as r; "
    probe += "print(json.dumps(r(sys.argv[1:])))"
    command = [sys.executable, "-c", probe]
    for key, paths in (("rss_mb", [default]), ("rss_all_checkpoints_mb", every)):
        try:
            result = run_json([*command, *map(str, paths)], env=checkout_env(), timeout=600)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            report.notes[key] = f"memory probe failed: {exc}"
            continue
        report.values[key] = result["after_each_mb"][-1]
        report.figures[key] = {**result, "checkpoints": [p.name for p in paths]}
    report.notes.setdefault(
        "rss_mb", "engine only (torch + model, no Qt), in a fresh process; see figures"
    )


def _debugger(ctx: BenchContext, report: Report) -> None:
    """Issue 18's targets: the breakpoint check against a batch-1 step (≤ 5 %), and the
    first new token after an attention edit (≤ 100 ms), on the default model, in-process."""
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model
    from attnscope.engine.resources import default_checkpoint
    from benchmarks import breakpoints, what_if_latency

    checkpoint = ctx.checkpoint or default_checkpoint()
    if checkpoint is None:
        report.unmeasured(GROUP_KEYS["debugger"], "needs a checkpoint: none given and none bundled")
        return
    repeats = 3 if ctx.size == "full" else 1
    sentences = what_if_latency.example_sentences(12 if ctx.size == "full" else 4)
    model = load_inference_model(checkpoint, device="cpu")
    model.open_session(sentences[0], DecodeConfig()).run()  # warm-up
    cost = breakpoints.breakpoint_cost(model, sentences, config=DecodeConfig(), repeats=repeats)
    report.values["breakpoint_check_vs_step_ratio"] = cost["check_vs_step_ratio"]
    report.figures["breakpoints"] = cost
    times = what_if_latency.measure(checkpoint, DecodeConfig(), sentences)
    report.add_samples("what_if_first_token_ms", times["first"])
    report.values["what_if_first_token_ms"] = report.median("what_if_first_token_ms")


FIGURE_GROUPS: dict[str, Callable[[BenchContext, Report], None]] = {
    "latency": _latency,
    "throughput": measure_throughput,
    "memory": _memory,
    "gui": measure_gui,
    "debugger": _debugger,
    "val": measure_real_data,
    "attribution": measure_attribution,
    "hf": measure_hf,
}
GROUP_KEYS = {
    "latency": ("greedy_step_ms", "step_vs_weight_bytes_ratio", "int8_step_vs_weight_bytes_ratio"),
    "throughput": tuple(RATIOS),
    "memory": ("rss_mb", "rss_all_checkpoints_mb"),
    "gui": GUI_KEYS,
    "debugger": ("breakpoint_check_vs_step_ratio", "what_if_first_token_ms"),
    "val": REAL_DATA_KEYS,
    "attribution": ATTRIBUTION_KEYS,
    "hf": HF_KEYS,
}
# Parts of groups that can be left out on their own.
SKIPPABLE = (*GROUP_KEYS, "naive", "peer", "startup", "explain_stall")


# -- running ------------------------------------------------------------------------------


def collect(ctx: BenchContext) -> Report:
    """Run every figure group not in ``ctx.skip``; returns the filled report."""
    report = Report(size=ctx.size, machine=machine_info(ctx.threads))
    for name, measure in FIGURE_GROUPS.items():
        if name in ctx.skip:
            report.unmeasured(GROUP_KEYS[name], f"skipped (--skip {name})")
            continue
        logger.info("bench: %s", name)
        start = time.perf_counter()
        measure(ctx, report)
        report.machine.setdefault("seconds", {})[name] = round(time.perf_counter() - start, 1)
    if hasattr(os, "getloadavg"):
        report.machine["load_average"]["end"] = list(os.getloadavg())
    for key in TOP_LEVEL_KEYS:
        if report.values[key] is None:
            report.notes.setdefault(key, "not measured")
    return report


def run(args: argparse.Namespace) -> int:
    import torch

    from attnscope.engine.devices import configure_threads
    from benchmarks import workloads

    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = {"full": workloads.FULL, "quick": workloads.QUICK, "tiny": workloads.TINY}[size]
    unknown = set(args.skip) - set(SKIPPABLE)
    if unknown:
        raise ValueError(f"unknown figure {sorted(unknown)}; valid: {', '.join(SKIPPABLE)}")
    if args.threads < 0:
        raise ValueError(f"--threads must be >= 0, got {args.threads}")
    if args.threads:
        torch.set_num_threads(args.threads)
    else:  # like the app's worker: every core but one, which also steadies shared machines
        configure_threads(reserve_for_gui=1)
    ctx = BenchContext(
        sizes=sizes,
        threads=torch.get_num_threads(),
        checkpoint=args.checkpoint,
        peer_python=args.peer_python,
        size=size,
        skip=frozenset(args.skip),
        val_src=args.val_src,
        val_ref=args.val_ref,
    )
    report = collect(ctx)
    data = report.to_json()
    table = format_table(data)
    if args.json == "-":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        sys.stderr.write(table)
    else:
        sys.stdout.write(table)
        if args.json:
            Path(args.json).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            logger.info("wrote %s", args.json)
    return 0
