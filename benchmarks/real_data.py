"""The ``val`` figure group of ``attnscope bench``: the default checkpoint on real sentences.

Needs ``--val-src FILE --val-ref FILE`` (e.g. Multi30k's val.de.gz and val.en.gz for
the bundled de→en model); without them its figures are null with the reason.
``--quick`` takes the first 256 lines, ``--tiny`` the first 8.

- ``translate_val_wall_s``: ``attnscope translate -c CKPT --beam 5 -i SRC -o OUT``
  in a fresh process, start-up and model load included, with the command's own
  thread default (engine/cpu_threads.py).
- ``val_sgemm_share``: batch 32, beam 5 (the checkpoint's recommended settings),
  one thread, float32: floating-point operations per second of the decode
  (the profiler's FLOP count of the products on the first 64 lines, per target
  token, times the whole set's tokens/s) over the core's sgemm peak measured in
  the same run (a 1024³ ``torch.mm``, best of 5).
- ``int8_val_speed_ratio`` and ``int8_val_bleu_drop``: int8 against float32 on
  the same lines, taking turns window by window (benchmarks/int8_quality.py).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import BenchContext, Report

logger = logging.getLogger(__name__)

KEYS = ("translate_val_wall_s", "val_sgemm_share", "int8_val_speed_ratio", "int8_val_bleu_drop")
LINES = {"full": 0, "quick": 256, "tiny": 8}  # 0: every line
PROFILED_LINES = 64


def sgemm_peak_gflops(size: int = 1024, repeats: int = 5) -> float:
    """This process's sgemm rate on a square ``size`` product, best of ``repeats``."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    torch.mm(a, b, out=out)  # warm-up
    best = min(_seconds(lambda: torch.mm(a, b, out=out)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def flops_per_token(model, lines: list[str], config) -> float:
    """The profiler's FLOP count of the products decoding ``lines`` (engine/batch.py's
    sorted windows), per target token."""
    from torch.profiler import ProfilerActivity, profile

    from attnscope.engine.batch import translate_windows
    from benchmarks.step_floor import _quiet_stderr

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        (outcomes,) = translate_windows(model, lines, config, window=len(lines))
    flops = sum(event.flops for event in prof.key_averages() if event.flops)
    tokens = sum(len(o.token_ids) for o in outcomes if hasattr(o, "token_ids"))
    return flops / max(tokens, 1)


def measure_real_data(ctx: BenchContext, report: Report) -> None:
    import torch

    from attnscope.engine.input_files import read_text_lines
    from attnscope.engine.resources import default_checkpoint
    from benchmarks import int8_quality

    checkpoint = ctx.checkpoint or default_checkpoint()
    if not (ctx.val_src and ctx.val_ref) or checkpoint is None:
        reason = "needs --val-src FILE and --val-ref FILE (e.g. Multi30k's val.de.gz, val.en.gz)"
        report.unmeasured(KEYS, reason if checkpoint else "needs a checkpoint: none bundled")
        return
    sources = read_text_lines(ctx.val_src, what="--val-src").lines
    references = read_text_lines(ctx.val_ref, what="--val-ref").lines
    if LINES[ctx.size]:
        sources, references = sources[: LINES[ctx.size]], references[: LINES[ctx.size]]
    report.workload["val"] = {
        "source": ctx.val_src,
        "lines": len(sources),
        "model": str(checkpoint),
    }
    report.values["translate_val_wall_s"] = _translate_wall(checkpoint, sources, report)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = int8_quality.compare(str(checkpoint), sources, references, window=128)
        _sgemm_share(str(checkpoint), sources, result["fp32"]["tokens_per_s"], report)
    finally:
        torch.set_num_threads(previous)
    report.figures["int8_val"] = result
    report.values["int8_val_speed_ratio"] = result["int8_vs_fp32_speed"]
    report.values["int8_val_bleu_drop"] = result["bleu_drop"]


def _sgemm_share(checkpoint: str, sources: list[str], tokens_per_s: float, report) -> None:
    from dataclasses import replace

    from attnscope.engine.commands.common import recommended_decoding
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(checkpoint, device="cpu")
    config = replace(DecodeConfig(max_length_ratio=2.0), **(recommended_decoding(model) or {}))
    per_token = flops_per_token(model, sources[:PROFILED_LINES], config)
    peak = sgemm_peak_gflops()
    report.figures["val_decode"] = {
        "tokens_per_s": tokens_per_s,
        "gflop_per_token": per_token / 1e9,
        "sgemm_peak_gflops": peak,
        "threads": 1,
    }
    report.values["val_sgemm_share"] = per_token * tokens_per_s / 1e9 / peak


def _translate_wall(checkpoint, sources: list[str], report: Report) -> float | None:
    """Seconds of ``attnscope translate --beam 5`` on ``sources`` in a fresh process."""
    with tempfile.TemporaryDirectory() as folder:
        src, out = Path(folder) / "src.txt", Path(folder) / "out.txt"
        src.write_text("".join(line + "\n" for line in sources), encoding="utf-8")
        command = [sys.executable, "-m", "attnscope", "translate", "-c", str(checkpoint)]
        command += ["--beam", "5", "-i", str(src), "-o", str(out)]
        env = {k: v for k, v in os.environ.items() if k != "ATTNSCOPE_THREADS"}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        report.notes["translate_val_wall_s"] = f"attnscope translate failed: {tail}"
        return None
    return seconds


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
