"""The throughput figures of ``attnscope bench``: batched beam against two references and
three OpenNMT-py settings, all interleaved round by round (see benchmarks/README.md).

Systems (target tokens/s, every hypothesis forced to ``sizes.length`` tokens):

- ``beam``: AttnScope, batches of 32 cut from length-sorted sentences, additive
  (``mlp``) attention, no per-step record (``topk_alternatives=0``).
- ``beam_default``: the same with the record users get by default (top-10
  alternatives per step and hypothesis, as the app and the CLI decode).
- ``sentence_beam``: the engine's own beam on one sentence at a time (k rows per
  step), and ``naive``: benchmarks/naive_beam.py (one hypothesis at a time); both on
  a share of the sentences per round.
- ``peer``, ``peer_general``, ``peer_general_int8``: OpenNMT-py 3.5.1 with ``mlp``,
  with ``general`` attention, and with ``general`` and ``-precision int8``, batches
  cut from length-sorted sentences as its own inference does.
- ``beam_general`` and ``beam_general_int8``: AttnScope with ``general`` attention,
  float32 and int8 weights (engine/quantize.py).

Each peer runs right after the AttnScope system of its ratio (``PEER_PARTNERS``), so
the two passes of a ratio see the same load on a shared machine.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from benchmarks import opennmt_peer
from benchmarks.report import BenchContext, Report

logger = logging.getLogger(__name__)

# ratio key -> (numerator system, denominator system); each is a median of per-round ratios
RATIOS = {
    "beam_vs_naive_ratio": ("beam", "naive"),
    "beam_vs_sentence_beam_ratio": ("beam", "sentence_beam"),
    "beam_default_vs_bare_ratio": ("beam_default", "beam"),
    "beam_vs_opennmt_ratio": ("beam", "peer"),
    "beam_vs_opennmt_general_ratio": ("beam_general", "peer_general"),
    "beam_vs_opennmt_int8_ratio": ("beam_general", "peer_general_int8"),
    "int8_beam_vs_opennmt_int8_ratio": ("beam_general_int8", "peer_general_int8"),
    "int8_vs_fp32_beam_ratio": ("beam_general_int8", "beam_general"),
}
# peer system -> (OpenNMT-py attention, precision)
PEERS = {
    "peer": ("mlp", "fp32"),
    "peer_general": ("general", "fp32"),
    "peer_general_int8": ("general", "int8"),
}
# peer system -> the AttnScope system it runs right after in every round
PEER_PARTNERS = {
    "peer": "beam",
    "peer_general": "beam_general",
    "peer_general_int8": "beam_general_int8",
}
FIGURE_NAMES = {
    "beam": "beam_tokens_per_s",
    "beam_default": "beam_default_tokens_per_s",
    "sentence_beam": "sentence_beam_tokens_per_s",
    "naive": "naive_tokens_per_s",
    "beam_general": "beam_general_tokens_per_s",
    "beam_general_int8": "beam_general_int8_tokens_per_s",
    "peer": "opennmt_tokens_per_s",
    "peer_general": "opennmt_general_tokens_per_s",
    "peer_general_int8": "opennmt_general_int8_tokens_per_s",
}


def measure_throughput(ctx: BenchContext, report: Report) -> None:
    """Every system above, interleaved round by round; ratios of each round's passes."""
    from benchmarks import workloads

    sizes = ctx.sizes
    sources = workloads.random_sources(sizes.sentences, sizes.vocab, seed=sizes.seed)
    passes = _engine_passes(ctx, sources)
    report.workload["beam"] = {
        "model_config": workloads.beam_model_config(sizes.vocab, sizes.width_divisor).to_dict(),
        "attention_kinds": {"beam": "additive", "beam_general": "general"},
        "sentences": sizes.sentences,
        "naive_sentences": sizes.naive_sentences,
        "source_lengths": list(workloads.SOURCE_LENGTHS),
        "batch_size": sizes.batch_size,
        "beam_size": sizes.beam_size,
        "forced_length": sizes.length,
        "rounds": sizes.repeats,
        "threads": ctx.threads,
        "length_sorted_batches": True,
        "systems": list(passes),
    }
    with contextlib.ExitStack() as stack:
        peers = _start_peers(ctx, report, sources, stack)
        passes = _paired_order(passes, {name: _peer_pass(peer) for name, peer in peers.items()})
        logger.info("throughput: %d rounds of %s", sizes.repeats, ", ".join(passes))
        try:
            samples = workloads.interleaved_rounds(passes, sizes.repeats)
        except RuntimeError as exc:  # a peer died mid-way: measure again without the peers
            for name in peers:
                _note_peer(report, name, f"the OpenNMT-py peer failed: {exc}")
            samples = workloads.interleaved_rounds(
                {n: p for n, p in passes.items() if n not in peers}, sizes.repeats
            )
        report.workload["opennmt"] = {name: peer.info for name, peer in peers.items()}
    for system, values in samples.items():
        report.add_samples(FIGURE_NAMES[system], values)
    for key, (ours, theirs) in RATIOS.items():
        if ours in samples and theirs in samples:
            pairs = zip(samples[ours], samples[theirs], strict=True)
            report.ratio(key, [a / b for a, b in pairs])
        elif key not in report.notes:
            report.notes[key] = f"not measured ({theirs} skipped)"


def _engine_passes(ctx: BenchContext, sources: list) -> dict:
    """name -> one timed pass (round index -> tokens/s) of each AttnScope system."""
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.quantize import quantize_int8
    from benchmarks import workloads

    sizes = ctx.sizes
    bare = workloads.forced_length_config(sizes)
    default = workloads.forced_length_config(sizes, alternatives=DecodeConfig().topk_alternatives)
    models = {
        kind: workloads.random_model(
            workloads.beam_model_config(sizes.vocab, sizes.width_divisor, kind), sizes.seed
        )
        for kind in ("additive", "general")
    }
    int8 = quantize_int8(models["general"])
    share = max(1, sizes.naive_sentences // sizes.repeats)

    def chunk(round_index: int) -> list:
        return [sources[(round_index * share + i) % len(sources)] for i in range(share)]

    def batched(model, config):
        workloads.engine_beam_pass(model, sources[:2], config, sizes.batch_size)  # warm-up
        return lambda _: workloads.rate(
            lambda: workloads.engine_beam_pass(model, sources, config, sizes.batch_size, sort=True)
        )

    passes = {
        "beam": batched(models["additive"], bare),
        "beam_default": batched(models["additive"], default),
        "sentence_beam": lambda r: workloads.rate(
            lambda: workloads.engine_beam_pass(models["additive"], chunk(r), bare, 1)
        ),
        "naive": lambda r: workloads.naive_pass(models["additive"], chunk(r), sizes),
        "beam_general": batched(models["general"], bare),
        "beam_general_int8": batched(int8, bare),
    }
    if "naive" in ctx.skip:
        del passes["naive"]
    return passes


def _paired_order(engine: dict, peers: dict) -> dict:
    """All passes, each peer right after the AttnScope system it is compared with
    (``PEER_PARTNERS``): a shared machine's load changes within a round (~20 s at the
    quick size), and a ratio's two passes should see the same load."""
    ordered = {}
    for name, one_pass in engine.items():
        ordered[name] = one_pass
        ordered.update(
            {p: peers[p] for p, ours in PEER_PARTNERS.items() if ours == name and p in peers}
        )
    ordered.update(peers)  # a peer whose partner was skipped still runs
    return ordered


def _peer_pass(peer):
    return lambda _: peer.one_pass()


def _note_peer(report: Report, peer: str, reason: str) -> None:
    for key, (_, theirs) in RATIOS.items():
        if theirs == peer:
            report.notes[key] = reason


def _start_peers(ctx: BenchContext, report: Report, sources: list, stack) -> dict:
    """Started PeerProcesses by system name; a peer that cannot start gets its reason noted."""
    from benchmarks import workloads

    if "peer" in ctx.skip:
        for name in PEERS:
            _note_peer(report, name, "skipped (--skip peer)")
        return {}
    python = _peer_python(ctx)
    if not python.is_file():
        for name in PEERS:
            _note_peer(report, name, _peer_missing_reason(python))
        return {}
    sizes = ctx.sizes
    config = workloads.beam_model_config(sizes.vocab, sizes.width_divisor)
    peers = {}
    for name, (attention, precision) in PEERS.items():
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
            "attention": attention,
            "precision": precision,
            "sort": True,
        }
        logger.info("starting the OpenNMT-py peer %s (%s)", name, python)
        try:
            peers[name] = stack.enter_context(opennmt_peer.PeerProcess(str(python), workload))
        except (OSError, RuntimeError, ValueError) as exc:
            _note_peer(report, name, f"the OpenNMT-py peer failed to start: {exc}")
    return peers


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
