"""The report ``attnscope bench`` fills: top-level figures, spreads, notes, the machine.

``Report`` collects what each figure group measures; ``BenchContext`` is
what a group is given; ``format_table`` prints the finished JSON.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOP_LEVEL_KEYS = (
    "beam_vs_naive_ratio",
    "beam_vs_sentence_beam_ratio",
    "beam_default_vs_bare_ratio",
    "beam_vs_opennmt_ratio",
    "beam_vs_opennmt_general_ratio",
    "beam_vs_opennmt_int8_ratio",
    "int8_beam_vs_opennmt_int8_ratio",
    "int8_vs_fp32_beam_ratio",
    "greedy_step_ms",
    "step_vs_weight_bytes_ratio",
    "int8_step_vs_weight_bytes_ratio",
    "translate_val_wall_s",
    "val_sgemm_share",
    "int8_val_speed_ratio",
    "int8_val_bleu_drop",
    "gui_step_p95_ms",
    "gui_max_stall_ms",
    "heatmap_200_update_ms",
    "startup_s",
    "startup_cold_s",
    "gui_keypress_p95_ms",
    "gui_keypress_stall_p99_ms",
    "gui_keypress_cpu_ms",
    "rss_mb",
    "rss_all_checkpoints_mb",
    "breakpoint_check_vs_step_ratio",
    "what_if_first_token_ms",
    "explain_stall_ms",
    "ig_step_s",
    "ig_output_s",
    "saliency_output_s",
    "ig_step_vs_naive_ratio",
    "ig_output_vs_naive_ratio",
    "saliency_output_vs_naive_ratio",
    "hf_greedy_step_ms",
    "hf_greedy_vs_generate_ratio",
    "hf_beam_vs_generate_ratio",
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
        from benchmarks.workloads import spread

        self.figures[name] = spread(samples)

    def median(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return None if figure is None else figure["median"]

    def ratio(self, key: str, ratios: list[float]) -> None:
        """values[key] = the median of per-repetition ratios; figures[key] their spread."""
        if ratios:
            self.add_samples(key, ratios)
            self.values[key] = self.median(key)

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
    sizes: Any  # benchmarks.workloads.BenchSizes
    threads: int
    checkpoint: str | None
    peer_python: str | None
    size: str
    skip: frozenset[str] = frozenset()
    val_src: str | None = None  # real sentences for the val group (benchmarks/real_data.py)
    val_ref: str | None = None


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
        # the widest vector instructions torch's kernels use here (AVX2, AVX512...):
        # int8 products gain most with AVX-512's VNNI, and a shared host can change it
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": threads,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": {"start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
    }


def format_table(data: dict[str, Any]) -> str:
    """A plain-text table of the figures (median and min..max) and the top-level values."""
    lines = [f"{'figure':<28} {'median':>12} {'min .. max':>26}"]
    for name, figure in data["figures"].items():
        if not {"median", "min", "max"} <= set(figure):  # e.g. the GUI script's own JSON
            continue
        spread = f"{figure['min']:.4g} .. {figure['max']:.4g}"
        lines.append(f"{name:<28} {figure['median']:>12.4g} {spread:>26}")
    lines.append("")
    for key in TOP_LEVEL_KEYS:
        value = data[key]
        shown = "null" if value is None else f"{value:.3g}"
        note = f"  ({data['notes'][key]})" if value is None and key in data["notes"] else ""
        lines.append(f"{key:<28} {shown:>12}{note}")
    return "\n".join(lines) + "\n"
