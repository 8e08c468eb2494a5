"""`attnscope bench [--quick] [--json OUT]`: measure, print a table, write the figures as JSON.

Figures (each a median of several repetitions, with its spread under ``figures``):

- ``beam_vs_naive_ratio``: batched beam search (batch 32, beam 5, 50 forced
  tokens) vs benchmarks/naive_beam.py, in target tokens/s.
- ``beam_vs_opennmt_ratio``: the same workload vs OpenNMT-py 3.5.1, run by
  benchmarks/opennmt_peer.py in its own venv (benchmarks/setup_opennmt_peer.sh).
- ``step_vs_floor_ratio``: the demo model's batch-1 greedy step vs its bare
  matrix products; also the time to encode a 20-token sentence.
- ``rss_mb`` / ``rss_all_checkpoints_mb``: resident memory in a fresh process
  after loading the default / every bundled checkpoint.
- ``startup_s``: `attnscope gui` start to window shown, when the GUI honours
  ``ATTNSCOPE_EXIT_WHEN_READY=1`` (it then exits once its window is shown).
- ``gui_step_p95_ms``, ``gui_max_stall_ms``, ``heatmap_200_update_ms``: taken
  from ``python -m attnscope.gui.bench_probe [--quick]`` when that module exists;
  it prints one JSON object whose keys are those names (a number, or a dict
  with a ``median``) and optionally ``notes``.

A figure that cannot be measured is null with the reason under ``notes``.
Timings are wall clock on whatever else the machine is doing: read the
spreads and ``machine.load_average``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TOP_LEVEL_KEYS = (
    "beam_vs_naive_ratio",
    "beam_vs_opennmt_ratio",
    "step_vs_floor_ratio",
    "gui_step_p95_ms",
    "gui_max_stall_ms",
    "heatmap_200_update_ms",
    "startup_s",
    "rss_mb",
    "rss_all_checkpoints_mb",
)
READY_VARIABLE = "ATTNSCOPE_EXIT_WHEN_READY"
GUI_PROBE = "attnscope.gui.bench_probe"


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
        "--skip",
        action="append",
        default=[],
        metavar="FIGURE",
        help="skip a figure group (repeatable): " + ", ".join(FIGURE_GROUPS),
    )


@dataclass
class Report:
    """The JSON being built: top-level figures, detailed spreads, notes."""

    size: str
    values: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(TOP_LEVEL_KEYS))
    figures: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    workload: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def add_samples(self, name: str, samples: list[float]) -> None:
        from attnscope.engine.bench import spread

        self.figures[name] = spread(samples)

    def median(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return None if figure is None else figure["median"]

    def ratio(self, key: str, numerator: str, denominator: str) -> None:
        """values[key] = ratio of the medians; figures[key] adds its widest min..max."""
        top, bottom = self.figures.get(numerator), self.figures.get(denominator)
        if top is None or bottom is None or not bottom["min"]:
            self.notes.setdefault(key, f"needs both {numerator} and {denominator}")
            return
        self.values[key] = top["median"] / bottom["median"]
        self.figures[key] = {
            "median": self.values[key],
            "min": top["min"] / bottom["max"],
            "max": top["max"] / bottom["min"],
            "n": min(top["n"], bottom["n"]),
        }

    def unmeasured(self, keys: tuple[str, ...], reason: str) -> None:
        for key in keys:
            self.values[key] = None
            self.notes.setdefault(key, reason)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.values,
            "machine": self.machine,
            "notes": self.notes,
            "size": self.size,
            "figures": self.figures,
            "workload": self.workload,
        }


@dataclass(frozen=True)
class BenchContext:
    sizes: Any  # attnscope.engine.bench.BenchSizes
    threads: int
    checkpoint: str | None
    peer_python: str | None
    size: str


# -- figure groups ------------------------------------------------------------------------
def _latency(ctx: BenchContext, report: Report) -> None:
    import torch

    from attnscope.engine import bench
    from attnscope.engine.devices import configure_threads

    model, source = _demo_model(ctx, report)
    previous = torch.get_num_threads()
    report.machine["latency_threads"] = configure_threads(reserve_for_gui=1)  # as the GUI worker
    try:
        samples = bench.step_latency(model, ctx.sizes)
    finally:
        torch.set_num_threads(previous)
    for name in ("greedy_step_ms", "model_step_ms", "gemm_floor_ms"):
        report.add_samples(name, samples[name])
    report.add_samples("encode_20_tokens_ms", samples["encode_ms"])
    report.workload["latency"] = {"model": source, "gemm_calls": samples["gemm_calls"]}
    report.ratio("step_vs_floor_ratio", "greedy_step_ms", "gemm_floor_ms")


def _demo_model(ctx: BenchContext, report: Report) -> tuple[Any, str]:
    from attnscope.engine import bench
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
    config = bench.demo_model_config(ctx.sizes.vocab, ctx.sizes.width_divisor)
    report.notes["step_vs_floor_ratio"] = (
        f"{problem}: measured a random-weight model of the intended demo architecture "
        "(bi-GRU 256 encoder, GRU 512 decoder, additive attention, embed 256, vocab 8000)"
    )
    return bench.random_model(config, ctx.sizes.seed), "random demo architecture"


def _beam(ctx: BenchContext, report: Report) -> None:
    from attnscope.engine import bench

    sizes = ctx.sizes
    config = bench.beam_model_config(sizes.vocab, sizes.width_divisor)
    model = bench.random_model(config, sizes.seed)
    sources = bench.random_sources(sizes.sentences, sizes.vocab, seed=sizes.seed)
    report.workload["beam"] = {
        "model_config": config.to_dict(),
        "sentences": sizes.sentences,
        "naive_sentences": sizes.naive_sentences,
        "source_lengths": list(bench.SOURCE_LENGTHS),
        "batch_size": sizes.batch_size,
        "beam_size": sizes.beam_size,
        "forced_length": sizes.length,
        "threads": ctx.threads,
    }
    logger.info("batched beam: %d sentences x %d passes", sizes.sentences, sizes.repeats)
    report.add_samples("beam_tokens_per_s", bench.engine_tokens_per_s(model, sources, sizes))
    logger.info("naive beam: %d sentences", sizes.naive_sentences)
    try:
        naive = bench.naive_tokens_per_s(model, sources[: sizes.naive_sentences], sizes)
    except FileNotFoundError as exc:
        report.notes["beam_vs_naive_ratio"] = str(exc)
    else:
        report.add_samples("naive_tokens_per_s", naive)
        report.ratio("beam_vs_naive_ratio", "beam_tokens_per_s", "naive_tokens_per_s")


def _peer(ctx: BenchContext, report: Report) -> None:
    from attnscope.engine import bench

    python = _peer_python(ctx)
    if not python.is_file():
        report.notes["beam_vs_opennmt_ratio"] = _peer_missing_reason(python)
        return
    sizes = ctx.sizes
    config = bench.beam_model_config(sizes.vocab, sizes.width_divisor)
    workload = {
        "sources": bench.random_sources(sizes.sentences, sizes.vocab, seed=sizes.seed),
        "vocab": sizes.vocab,
        "embed": config.embed_dim,
        "hidden": config.decoder.hidden,
        "layers": config.decoder.layers,
        "beam": sizes.beam_size,
        "batch": sizes.batch_size,
        "length": sizes.length,
        "repeats": sizes.peer_repeats,
        "threads": ctx.threads,
        "seed": sizes.seed,
    }
    logger.info("OpenNMT-py peer: %d sentences x %d passes", sizes.sentences, sizes.peer_repeats)
    try:
        result = _run_json([str(python), str(bench.benchmark_script("opennmt_peer"))], workload)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        report.notes["beam_vs_opennmt_ratio"] = f"the OpenNMT-py peer failed: {exc}"
        return
    report.add_samples("opennmt_tokens_per_s", result["tokens_per_s"])
    report.workload["opennmt"] = {k: v for k, v in result.items() if k != "tokens_per_s"}
    report.ratio("beam_vs_opennmt_ratio", "beam_tokens_per_s", "opennmt_tokens_per_s")


def _peer_python(ctx: BenchContext) -> Path:
    if ctx.peer_python:
        return Path(ctx.peer_python)
    venv = os.environ.get("ATTNSCOPE_PEER_VENV") or Path.home() / ".cache/attnscope-peer/venv"
    return Path(venv) / "bin" / "python"


def _peer_missing_reason(python: Path) -> str:
    """Why there is no peer: no venv, or the setup script's pip error."""
    reason = (
        f"OpenNMT-py peer not installed ({python} missing): run benchmarks/setup_opennmt_peer.sh"
    )
    log = python.parent.parent.parent / "setup.log"
    if log.is_file():
        errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line]
        if errors:
            reason += "; its last setup failed with: " + " | ".join(errors[-3:])
    return reason


def _run_json(
    command: list[str],
    payload: dict | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    expect_json: bool = True,
) -> dict:
    """Run ``command`` (+ a JSON file holding ``payload``); parse its last stdout line as JSON.

    Raises ValueError (non-zero exit, no output), subprocess.TimeoutExpired or OSError.
    """
    with tempfile.TemporaryDirectory() as folder:
        if payload is not None:
            path = Path(folder) / "workload.json"
            path.write_text(json.dumps(payload), encoding="utf-8")
            command = [*command, str(path)]
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise ValueError(f"exit code {done.returncode}: {tail}")
    if not expect_json:
        return {}
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise ValueError("no output")
    return json.loads(lines[-1])


def _memory(ctx: BenchContext, report: Report) -> None:
    from attnscope.engine.resources import checkpoints, default_checkpoint

    default, every = default_checkpoint(), checkpoints()
    if default is None:
        report.unmeasured(
            ("rss_mb", "rss_all_checkpoints_mb"),
            "no bundled checkpoint (resources/checkpoints/ holds no .safetensors file yet)",
        )
        return
    probe = "import json, sys; from attnscope.engine.bench import rss_after_loading as r; "
    probe += "print(json.dumps(r(sys.argv[1:])))"
    for key, paths in (("rss_mb", [default]), ("rss_all_checkpoints_mb", every)):
        try:
            result = _run_json([sys.executable, "-c", probe, *map(str, paths)], timeout=600)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            report.notes[key] = f"memory probe failed: {exc}"
            continue
        report.values[key] = result["after_each_mb"][-1]
        report.figures[key] = {**result, "checkpoints": [p.name for p in paths]}
    report.notes.setdefault(
        "rss_mb", "engine only (torch + model, no Qt), in a fresh process; see figures"
    )


def _startup(ctx: BenchContext, report: Report) -> None:
    """Seconds from `python -m attnscope gui` to its exit right after the window is shown."""
    if not _gui_honours_ready_variable():
        report.notes["startup_s"] = f"the GUI does not honour {READY_VARIABLE}=1 yet"
        return
    from attnscope.engine.resources import default_checkpoint

    samples = []
    for _ in range(1 if ctx.size != "full" else 3):
        start = time.perf_counter()
        try:
            _run_json(
                [sys.executable, "-m", "attnscope", "gui"],
                env=_headless_env({READY_VARIABLE: "1"}),
                timeout=300,
                expect_json=False,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            report.notes["startup_s"] = f"`attnscope gui` failed: {exc}"
            return
        samples.append(time.perf_counter() - start)
    report.add_samples("startup_s", samples)
    report.values["startup_s"] = report.median("startup_s")
    if default_checkpoint() is None:
        report.notes["startup_s"] = "no bundled checkpoint: the window opened without a model"


def _gui_honours_ready_variable() -> bool:
    """Whether any module of attnscope.gui mentions the ready variable (without importing Qt)."""
    import importlib.util

    spec = importlib.util.find_spec("attnscope.gui")
    folders = list(spec.submodule_search_locations or []) if spec else []
    return any(
        READY_VARIABLE in path.read_text(errors="replace")
        for folder in folders
        for path in Path(folder).glob("*.py")
    )


def _headless_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _gui(ctx: BenchContext, report: Report) -> None:
    import importlib.util

    keys = GROUP_KEYS["gui"]
    if importlib.util.find_spec(GUI_PROBE) is None:
        report.unmeasured(keys, f"{GUI_PROBE} does not exist yet (the GUI responsiveness hook)")
        return
    command = [sys.executable, "-m", GUI_PROBE] + (["--quick"] if ctx.size != "full" else [])
    try:
        result = _run_json(command, env=_headless_env(), timeout=900)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        report.unmeasured(keys, f"{GUI_PROBE} failed: {exc}")
        return
    for key in keys:
        value = result.get(key)
        if isinstance(value, dict):
            report.figures[key] = value
            value = value.get("median")
        report.values[key] = value
    report.notes.update(result.get("notes") or {})


FIGURE_GROUPS: dict[str, Callable[[BenchContext, Report], None]] = {
    "latency": _latency,
    "beam": _beam,
    "peer": _peer,
    "memory": _memory,
    "startup": _startup,
    "gui": _gui,
}
GROUP_KEYS = {
    "latency": ("step_vs_floor_ratio",),
    "beam": ("beam_vs_naive_ratio",),
    "peer": ("beam_vs_opennmt_ratio",),
    "memory": ("rss_mb", "rss_all_checkpoints_mb"),
    "startup": ("startup_s",),
    "gui": ("gui_step_p95_ms", "gui_max_stall_ms", "heatmap_200_update_ms"),
}


# -- running ------------------------------------------------------------------------------
def machine_info(threads: int) -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "torch": torch.__version__,
        "threads": threads,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": {"start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
    }


def collect(ctx: BenchContext, skip: set[str]) -> Report:
    """Run every figure group not in ``skip``; returns the filled report."""
    report = Report(size=ctx.size, machine=machine_info(ctx.threads))
    for name, measure in FIGURE_GROUPS.items():
        if name in skip:
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

    from attnscope.engine import bench
    from attnscope.engine.devices import configure_threads

    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    sizes = {"full": bench.FULL, "quick": bench.QUICK, "tiny": bench.TINY}[size]
    unknown = set(args.skip) - set(FIGURE_GROUPS)
    if unknown:
        raise ValueError(f"unknown figure {sorted(unknown)}; valid: {', '.join(FIGURE_GROUPS)}")
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
    )
    report = collect(ctx, set(args.skip))
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


def format_table(data: dict[str, Any]) -> str:
    """A plain-text table of the figures (median and min..max) and the top-level values."""
    lines = [f"{'figure':<28} {'median':>12} {'min .. max':>26}"]
    for name, figure in data["figures"].items():
        spread = f"{figure['min']:.4g} .. {figure['max']:.4g}"
        lines.append(f"{name:<28} {figure['median']:>12.4g} {spread:>26}")
    lines.append("")
    for key in TOP_LEVEL_KEYS:
        value = data[key]
        shown = "null" if value is None else f"{value:.3g}"
        note = f"  ({data['notes'][key]})" if value is None and key in data["notes"] else ""
        lines.append(f"{key:<28} {shown:>12}{note}")
    return "\n".join(lines) + "\n"
