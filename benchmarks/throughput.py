"""The throughput figures of ``attnscope bench``: batched beam vs the naive reference
and the OpenNMT-py peer (see benchmarks/command.py for the workload).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from benchmarks import opennmt_peer
from benchmarks.report import BenchContext, Report

logger = logging.getLogger(__name__)


def measure_throughput(ctx: BenchContext, report: Report) -> None:
    """Batched beam, naive reference and OpenNMT-py peer, interleaved round by round."""
    from benchmarks import workloads

    sizes = ctx.sizes
    config = workloads.beam_model_config(sizes.vocab, sizes.width_divisor)
    model = workloads.random_model(config, sizes.seed)
    sources = workloads.random_sources(sizes.sentences, sizes.vocab, seed=sizes.seed)
    report.workload["beam"] = {
        "model_config": config.to_dict(),
        "sentences": sizes.sentences,
        "naive_sentences": sizes.naive_sentences,
        "source_lengths": list(workloads.SOURCE_LENGTHS),
        "batch_size": sizes.batch_size,
        "beam_size": sizes.beam_size,
        "forced_length": sizes.length,
        "rounds": sizes.repeats,
        "threads": ctx.threads,
    }
    naive = _naive_available(ctx, report)
    if "peer" in ctx.skip:
        report.notes["beam_vs_opennmt_ratio"] = "skipped (--skip peer)"
    with contextlib.ExitStack() as stack:
        peer = None if "peer" in ctx.skip else _start_peer(ctx, report, sources, stack)
        logger.info("throughput: %d rounds over %d sentences", sizes.repeats, sizes.sentences)
        try:
            samples = workloads.throughput_rounds(
                model, sources, sizes, naive=naive, peer_pass=peer.one_pass if peer else None
            )
        except RuntimeError as exc:  # the peer died mid-way: measure again without it
            report.notes["beam_vs_opennmt_ratio"] = f"the OpenNMT-py peer failed: {exc}"
            samples = workloads.throughput_rounds(model, sources, sizes, naive=naive)
        if peer is not None:
            report.workload["opennmt"] = peer.info
    names = {"beam": "beam_tokens_per_s", "naive": "naive_tokens_per_s"}
    names["peer"] = "opennmt_tokens_per_s"
    for system, figure in names.items():
        if samples[system]:
            report.add_samples(figure, samples[system])
    for key, other in (("beam_vs_naive_ratio", "naive"), ("beam_vs_opennmt_ratio", "peer")):
        if samples[other]:  # the systems took turns: compare each round's passes
            pairs = zip(samples["beam"], samples[other], strict=True)
            report.ratio(key, [beam / theirs for beam, theirs in pairs])


def _naive_available(ctx: BenchContext, report: Report) -> bool:
    if "naive" in ctx.skip:
        report.notes["beam_vs_naive_ratio"] = "skipped (--skip naive)"
        return False
    return True


def _start_peer(ctx: BenchContext, report: Report, sources: list, stack: contextlib.ExitStack):
    """A started PeerProcess for the throughput workload, or None (the reason goes to notes)."""
    from benchmarks import workloads

    python = _peer_python(ctx)
    if not python.is_file():
        report.notes["beam_vs_opennmt_ratio"] = _peer_missing_reason(python)
        return None
    sizes = ctx.sizes
    config = workloads.beam_model_config(sizes.vocab, sizes.width_divisor)
    workload = {
        "sources": sources,
        "vocab": sizes.vocab,
        "embed": config.embed_dim,
        "hidden": config.decoder.hidden,
        "layers": config.decoder.layers,
        "beam": sizes.beam_size,
        "batch": sizes.batch_size,
        "length": sizes.length,
        "threads": ctx.threads,
        "seed": sizes.seed,
    }
    logger.info("starting the OpenNMT-py peer (%s)", python)
    try:
        return stack.enter_context(opennmt_peer.PeerProcess(str(python), workload))
    except (OSError, RuntimeError, ValueError) as exc:
        report.notes["beam_vs_opennmt_ratio"] = f"the OpenNMT-py peer failed to start: {exc}"
        return None


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
