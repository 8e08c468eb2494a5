"""Turn the JSON of `attnscope bench --json OUT` into a Markdown table for the README.

    python benchmarks/readme_table.py bench.json > table.md
    attnscope bench --quick --json - 2>/dev/null | python benchmarks/readme_table.py

Values are medians; the spread column shows min..max of the repetitions the
ratio is built from. A figure that was not measured shows its reason.
"""

from __future__ import annotations

import json
import sys
from typing import Any

# key -> (label, unit, target, (numerator figure, denominator figure) or the figure itself)
ROWS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "beam_vs_naive_ratio": (
        "Batched beam vs naive beam (target tokens/s)",
        "×",
        "≥ 10×",
        ("beam_tokens_per_s", "naive_tokens_per_s"),
    ),
    "beam_vs_sentence_beam_ratio": (
        "Batched beam vs the engine's beam on one sentence at a time (k rows a step)",
        "×",
        "",
        ("beam_tokens_per_s", "sentence_beam_tokens_per_s"),
    ),
    "beam_default_vs_bare_ratio": (
        "Default decode (top-10 alternatives recorded) vs no record",
        "×",
        "",
        ("beam_default_tokens_per_s", "beam_tokens_per_s"),
    ),
    "beam_vs_opennmt_ratio": (
        "vs OpenNMT-py 3.5.1, `mlp` attention (it re-projects the keys every step)",
        "×",
        "",
        ("beam_tokens_per_s", "opennmt_tokens_per_s"),
    ),
    "beam_vs_opennmt_general_ratio": (
        "vs OpenNMT-py 3.5.1, `general` attention (the same work)",
        "×",
        "≥ 1.2×",
        ("beam_general_tokens_per_s", "opennmt_general_tokens_per_s"),
    ),
    "beam_vs_opennmt_int8_ratio": (
        "float32 vs OpenNMT-py's best CPU setting (`general`, `-precision int8`)",
        "×",
        "≥ 1.0×",
        ("beam_general_tokens_per_s", "opennmt_general_int8_tokens_per_s"),
    ),
    "int8_beam_vs_opennmt_int8_ratio": (
        "int8 vs OpenNMT-py int8 (`general`)",
        "×",
        "",
        ("beam_general_int8_tokens_per_s", "opennmt_general_int8_tokens_per_s"),
    ),
    "int8_vs_fp32_beam_ratio": (
        "int8 vs float32 weights, batched beam (`general`, random weights)",
        "×",
        "",
        ("beam_general_int8_tokens_per_s", "beam_general_tokens_per_s"),
    ),
    "greedy_step_ms": ("Batch-1 greedy step (default model, GUI worker threads)", "ms", "", ()),
    "step_vs_weight_bytes_ratio": (
        "Batch-1 greedy step vs reading its matrices once (weight bytes ÷ read bandwidth)",
        "×",
        "≤ 1.2×",
        ("greedy_step_ms", "weight_bytes_limit_ms"),
    ),
    "int8_step_vs_weight_bytes_ratio": (
        "int8 batch-1 greedy step vs the float32 weight-bytes limit",
        "×",
        "< 1×",
        ("int8_greedy_step_ms", "weight_bytes_limit_ms"),
    ),
    "translate_val_wall_s": (
        "`attnscope translate --beam 5` on the val set, start-up included",
        "s",
        "≤ 40 s (val.de)",
        (),
    ),
    "val_sgemm_share": (
        "Batch 32, beam 5, 1 thread, val set: share of the core's sgemm peak",
        "",
        "≥ 0.75",
        (),
    ),
    "int8_val_speed_ratio": (
        "int8 vs float32 on the val set (target tokens/s)",
        "×",
        "≥ 1.25×",
        (),
    ),
    "int8_val_bleu_drop": ("BLEU lost with int8 on the val set", "", "≤ 0.5", ()),
    "gui_step_p95_ms": ("GUI step, 95th percentile", "ms", "≤ 30 ms", ()),
    "gui_max_stall_ms": ("GUI longest event-loop stall", "ms", "≤ 20 ms", ()),
    "gui_keypress_p95_ms": (
        "GUI: F10 pressed -> every view drawn, steps 150 ms apart, long sentence, p95",
        "ms",
        "≤ 50 ms (Xvfb)",
        (),
    ),
    "gui_keypress_stall_p99_ms": (
        "GUI: event-loop stall during those steps, p99",
        "ms",
        "≤ 16.7 ms (a frame)",
        (),
    ),
    "gui_keypress_cpu_ms": (
        "GUI: the GUI thread's CPU per key press (same steps; steadier than the latencies)",
        "ms",
        "",
        (),
    ),
    "startup_cold_s": ("Start-up, cold (first start of the run)", "s", "", ()),
    "heatmap_200_update_ms": ("Heat map update, 200×200", "ms", "", ()),
    "startup_s": ("Start-up to window shown with the checkpoint loaded, warm", "s", "≤ 3 s", ()),
    "rss_mb": ("Resident memory, default checkpoint", "MiB", "", ()),
    "rss_all_checkpoints_mb": ("Resident memory, after every bundled checkpoint", "MiB", "", ()),
    "breakpoint_check_vs_step_ratio": (
        "Breakpoint check (all 8 conditions) vs a batch-1 greedy step",
        "×",
        "≤ 0.05×",
        (),
    ),
    "what_if_first_token_ms": ("First new token after an attention edit", "ms", "≤ 100 ms", ()),
    "explain_stall_ms": (
        "GUI longest event-loop stall while attribution runs",
        "ms",
        "≤ 20 ms",
        (),
    ),
    "hf_greedy_step_ms": (
        "Hugging Face Marian-base-sized folder: batch-1 greedy step, attention recorded (CPU)",
        "ms",
        "",
        ("hf_generate_greedy_step_ms",),
    ),
    "hf_greedy_vs_generate_ratio": (
        "… its batch-1 greedy vs Hugging Face's own generate() (tokens per CPU second)",
        "×",
        "",
        ("hf_ours_greedy_tokens_per_s", "hf_generate_greedy_tokens_per_s"),
    ),
    "hf_beam_vs_generate_ratio": (
        "… beam 5 × batch 8, attention recorded, vs generate() (tokens per CPU second)",
        "×",
        "≥ 1.0×",
        ("hf_ours_beam_tokens_per_s", "hf_generate_beam_tokens_per_s"),
    ),
}
UNITS = {"tokens_per_s": "tok/s", "_ms": "ms", "_s": "s"}


def _unit(name: str) -> str:
    return next((unit for suffix, unit in UNITS.items() if name.endswith(suffix)), "")


def _figure(name: str, figure: dict[str, Any] | None) -> str:
    if not figure or "median" not in figure:
        return ""
    unit = _unit(name)
    return f"{figure['median']:.3g} {unit} ({figure['min']:.3g}..{figure['max']:.3g})"


def _value(value: float | None, unit: str, figure: dict[str, Any] | None) -> str:
    if value is None:
        return "—"
    shown = f"{value:.2f}{unit}" if unit == "×" else f"{value:.3g} {unit}"
    if figure and "min" in figure and "max" in figure:
        shown += f" ({figure['min']:.3g}..{figure['max']:.3g})"
    return shown


def _load(machine: dict[str, Any]) -> str:
    start = (machine.get("load_average") or {}).get("start")
    return f"{start[0]:.1f}" if start else "?"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def render(data: dict[str, Any]) -> str:
    """The Markdown table (with a line on the machine) for one bench JSON."""
    figures, notes = data.get("figures", {}), data.get("notes", {})
    lines = [
        "| Figure | Median (min..max) | From (median, min..max) | Target |",
        "| --- | --- | --- | --- |",
    ]
    rows = dict(ROWS)
    for key in sorted(data.get("notes", {}).keys() | {k for k, v in data.items() if _number(v)}):
        rows.setdefault(key, (key, "", "", ()))  # a figure group added without a row here
    for key, (label, unit, target, parts) in rows.items():
        value = data.get(key)
        detail = " / ".join(filter(None, (_figure(p, figures.get(p)) for p in parts)))
        if value is None:
            detail = f"not measured: {notes.get(key, 'no reason given')}"
        shown = _value(value, unit, figures.get(key))
        lines.append(f"| {label} | {shown} | {detail} | {target} |")
    shown = (figures.get("gui") or {}).get("window_shown_s")
    if shown:  # the window paints (saying "Loading…") before torch and the checkpoint are in
        lines.append(
            f"| Start-up to window shown (first paint, checkpoint still loading) | "
            f"{shown['p50']:.3g} s (max {shown['max']:.3g}) | | |"
        )
    machine = data.get("machine", {})
    lines.append("")
    lines.append(
        f"Measured with `attnscope bench` ({data.get('size', '?')} size) on {machine.get('cpu', '?')}, "
        f"{machine.get('usable_cores', '?')} cores ({machine.get('cpu_capability', '?')}), "
        f"torch {machine.get('torch', '?')}, "
        f"{machine.get('threads', '?')} thread(s) for throughput; load average at start "
        f"{_load(machine)} (a shared machine makes every spread wider)."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        sys.stderr.write("usage: readme_table.py [BENCH.json]\n")
        return 2
    if argv:
        with open(argv[0], encoding="utf-8") as handle:
            data = json.load(handle)
    else:
        data = json.load(sys.stdin)
    sys.stdout.write(render(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
