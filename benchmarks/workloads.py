"""Performance figures measured in this process: the workloads, beam throughput, memory.

Everything here is a plain function returning samples (one per repetition;
the batch-1 step against its floor is in benchmarks/step_floor.py); ``attnscope
bench`` (benchmarks/command.py) runs them, adds the figures
that need other processes (the OpenNMT-py peer, memory, start-up, the GUI)
and writes the JSON. Nothing here passes or fails on time.

Workloads use random weights and random token ids: the figures measure how
the work is organised, not what a trained model says.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from attnscope.engine.decoding import DecodeConfig, decode
from attnscope.models.config import (
    AttentionConfig,
    DecoderConfig,
    ModelConfig,
    TextEncoderConfig,
)
from attnscope.models.registry import build_model
from benchmarks import naive_beam

logger = logging.getLogger(__name__)

FIRST_WORD_ID = 4  # ids 0..3 are pad, unk, bos, eos (docs/CONTRACTS.md)
SOURCE_LENGTHS = (10, 30)  # realistic sentence lengths, inclusive


@dataclass(frozen=True)
class BenchSizes:
    """How much work each figure does.

    sentences:        source sentences for the batched beam (and the OpenNMT-py peer)
    naive_sentences:  sentences for the naive reference, spread over the rounds
                      (its tokens/s does not depend on the count)
    batch_size, beam_size: the batched searches' settings
    length:           every hypothesis is forced to exactly this many tokens
    repeats:          throughput rounds (each: one pass of every system)
    latency_steps:    greedy steps per latency run; ``latency_repeats`` runs
    vocab:            source and target vocabulary of the random models
    width_divisor:    1 = the real model sizes; larger shrinks every layer (tests)
    """

    sentences: int = 256  # 8 batches of 32; nine systems take turns for three rounds
    naive_sentences: int = 30
    batch_size: int = 32
    beam_size: int = 5
    length: int = 50
    repeats: int = 3
    latency_steps: int = 50
    latency_repeats: int = 5
    vocab: int = 8000
    width_divisor: int = 1
    seed: int = 0


FULL = BenchSizes()
QUICK = BenchSizes(sentences=32, naive_sentences=3, latency_repeats=3)
# For tests: the same code paths on a toy scale.
TINY = BenchSizes(
    sentences=4,
    naive_sentences=2,
    batch_size=2,
    beam_size=2,
    length=4,
    repeats=2,
    latency_steps=3,
    latency_repeats=2,
    vocab=50,
    width_divisor=16,
)


# -- statistics ---------------------------------------------------------------------------
def spread(samples: Sequence[float]) -> dict[str, float | int]:
    """Median, min, max and the interquartile range of repeated measurements."""
    values = sorted(float(v) for v in samples)
    if not values:
        raise ValueError("spread needs at least one sample")
    q1, _, q3 = (
        statistics.quantiles(values, n=4, method="inclusive")
        if len(values) > 1
        else (values[0],) * 3
    )
    return {
        "median": statistics.median(values),
        "min": values[0],
        "max": values[-1],
        "q1": q1,
        "q3": q3,
        "n": len(values),
    }


def time_call(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (wall clock)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# -- workloads ------------------------------------------------------------------------------
def beam_model_config(
    vocab: int = 8000, width_divisor: int = 1, attention: str = "additive"
) -> ModelConfig:
    """The throughput model: 2-layer bi-GRU (512 = 2 × 256) + 2-layer GRU(512), additive
    (or ``attention="general"``) attention.

    Sizes follow OpenNMT-py's ``-encoder_type brnn -rnn_size 512 -layers 2
    -global_attention mlp`` (or ``general``; input feeding, attention after the RNN)
    so the peer builds the same network.
    """
    width = 512 // width_divisor
    return ModelConfig(
        task="translation",
        src_vocab=vocab,
        tgt_vocab=vocab,
        embed_dim=width,
        text_encoder=TextEncoderConfig(
            kind="rnn", cell="gru", layers=2, hidden=width // 2, bidirectional=True, dropout=0.0
        ),
        attention=AttentionConfig(kind=attention),
        decoder=DecoderConfig(
            cell="gru", layers=2, hidden=width, dropout=0.0, placement="luong", input_feed=True
        ),
    )


def demo_model_config(vocab: int = 8000, width_divisor: int = 1) -> ModelConfig:
    """The intended de→en demo: bi-GRU 256 encoder, GRU 512 decoder, additive, embed 256."""
    small, large = 256 // width_divisor, 512 // width_divisor
    return ModelConfig(
        task="translation",
        src_vocab=vocab,
        tgt_vocab=vocab,
        embed_dim=small,
        text_encoder=TextEncoderConfig(kind="rnn", cell="gru", hidden=small, bidirectional=True),
        attention=AttentionConfig(kind="additive"),
        decoder=DecoderConfig(cell="gru", hidden=large, placement="bahdanau"),
    )


def random_model(config: ModelConfig, seed: int = 0) -> nn.Module:
    """``build_model(config)`` with seeded random weights, in eval mode."""
    torch.manual_seed(seed)
    return build_model(config).eval()


def random_sources(
    count: int, vocab: int, *, lengths: tuple[int, int] = SOURCE_LENGTHS, seed: int = 0
) -> list[list[int]]:
    """``count`` sentences of random word ids, lengths uniform in ``lengths`` (inclusive)."""
    rng = random.Random(seed)
    return [
        [rng.randrange(FIRST_WORD_ID, vocab) for _ in range(rng.randint(*lengths))]
        for _ in range(count)
    ]


def pad_batch(sources: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences -> src (B, S_max) long padded with 0, lengths (B,) long."""
    lengths = torch.tensor([len(s) for s in sources], dtype=torch.long)
    src = torch.zeros(len(sources), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(sources):
        src[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return src, lengths


def forced_length_config(sizes: BenchSizes, *, alternatives: int = 0) -> DecodeConfig:
    """Beam search that generates exactly ``sizes.length`` tokens for every hypothesis."""
    return DecodeConfig(
        strategy="beam",
        beam_size=sizes.beam_size,
        max_length=sizes.length,
        min_length=sizes.length,
        max_length_ratio=0.0,
        topk_alternatives=alternatives,
    )


# -- figure 1: batched beam vs the references and the peers ------------------------------
def engine_beam_pass(
    model: nn.Module,
    sources: Sequence[Sequence[int]],
    config: DecodeConfig,
    batch_size: int,
    *,
    sort: bool = False,
) -> int:
    """Encode and beam-decode every sentence in batches; returns the best hypotheses' tokens.

    With ``sort`` the batches are cut from the sentences sorted by length (as
    ``attnscope translate`` and OpenNMT-py batch).
    """
    if sort:
        sources = sorted(sources, key=len)
    tokens = 0
    with torch.inference_mode():
        for start in range(0, len(sources), batch_size):
            src, lengths = pad_batch(sources[start : start + batch_size])
            results = decode(model, model.encode(src, lengths), config)
            tokens += sum(len(r.tokens) for r in results)
    return tokens


def interleaved_rounds(
    passes: dict[str, Callable[[int], float]], repeats: int
) -> dict[str, list[float]]:
    """Tokens/s of every system, round by round: each of ``repeats`` rounds calls each
    ``passes[name](round_index)`` once in turn, so a busy machine slows them alike."""
    samples: dict[str, list[float]] = {name: [] for name in passes}
    for round_index in range(repeats):
        for name, one_pass in passes.items():
            samples[name].append(one_pass(round_index))
    return samples


def naive_pass(model: nn.Module, chunk: list, sizes: BenchSizes) -> float:
    """Tokens/s of benchmarks/naive_beam.py on ``chunk``."""
    settings = {"beam_size": sizes.beam_size, "max_length": sizes.length}
    settings["min_length"] = sizes.length
    return rate(lambda: sum(len(t) for t in naive_beam.naive_translate(model, chunk, **settings)))


def rate(count_tokens: Callable[[], int]) -> float:
    """Tokens per second of one call of ``count_tokens`` (which returns its token count)."""
    start = time.perf_counter()
    tokens = count_tokens()
    return tokens / (time.perf_counter() - start)


# -- figure 4: memory (run in a fresh subprocess by the bench command) ---------------------
def resident_mb() -> float:
    """This process's resident set size in MiB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return psutil.Process().memory_info().rss / 2**20


def rss_after_loading(paths: Sequence[str]) -> dict[str, Any]:
    """Open each checkpoint in turn, keeping only the latest (as the app does); RSS in MiB.

    Meant for a fresh process: ``baseline_mb`` is the RSS once torch and the
    engine are imported, ``after_each_mb`` the RSS after each load.
    """
    from attnscope.engine.checkpoint import load_checkpoint

    baseline, after, loaded = resident_mb(), [], None
    for path in paths:
        loaded = None  # drop the previous model first, like switching checkpoints
        gc.collect()
        loaded = load_checkpoint(path)
        after.append(resident_mb())
    del loaded
    return {"baseline_mb": baseline, "after_each_mb": after}
