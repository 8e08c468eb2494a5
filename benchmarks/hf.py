"""The ``hf`` figure group of ``attnscope bench``: a Hugging Face folder against its own
``generate()`` (issue 20, "Performance").

A random Marian model (``MarianConfig`` built here, saved with a word-level tokenizer to
a temporary folder; nothing is downloaded) is opened through the app's one loader,
``load_inference_model(DIR)``, and decoded with ``translate`` (the CLI's batch path:
the attention of every step and the top-10 alternatives recorded, as users get it).
Hugging Face's ``generate()`` decodes the same token ids on the same loaded model (its
eager attention, as the app loads it), without returning attention. Both sides make
exactly ``length`` tokens per hypothesis (eos banned before, the output cut at it), so
they do the same model work:

- ``hf_greedy_step_ms``: batch-1 greedy, CPU ms per generated token, and
  ``hf_greedy_vs_generate_ratio``: generate()'s time over ours (> 1: we are faster);
- ``hf_beam_vs_generate_ratio``: beam ``beam`` x batch ``batch``, target tokens/s
  ours over generate()'s.

Sizes: ``full`` is Marian base (6+6 layers, d_model 512, 8 heads, ffn 2048, vocabulary
32k, ~61M parameters); ``quick`` a 3+3-layer d_model 256 model, vocabulary 8k, so the
quick bench stays short; ``tiny`` a toy for the tests. One torch thread, and each
ratio is a median of per-round ratios of CPU seconds (this process's): the two sides
take turns, the first side alternating, and on a shared machine the CPU time is the
decode's own work where wall time also counts the neighbours (kept under ``figures``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.report import BenchContext, Report

logger = logging.getLogger(__name__)

KEYS = ("hf_greedy_step_ms", "hf_greedy_vs_generate_ratio", "hf_beam_vs_generate_ratio")


@dataclass(frozen=True)
class HfSizes:
    """The random model's shape and the decode workload."""

    layers: int  # encoder and decoder each
    d_model: int
    heads: int
    ffn: int
    vocab: int
    batch: int  # inputs of the beam workload
    beam: int
    length: int  # tokens every hypothesis makes, eos included
    source_tokens: tuple[int, int]  # words per input, drawn uniformly in [low, high)
    rounds: int


SIZES = {
    "full": HfSizes(6, 512, 8, 2048, 32000, 8, 5, 40, (15, 30), 5),
    "quick": HfSizes(3, 256, 4, 1024, 8000, 8, 5, 30, (15, 30), 3),
    "tiny": HfSizes(1, 16, 2, 32, 64, 2, 2, 4, (3, 6), 2),
}


def save_random_marian(folder: Path, sizes: HfSizes, seed: int = 0) -> Path:
    """A random MarianMTModel of ``sizes`` with a word-level tokenizer ("w2" ... are
    words; eos 0, unk 1, pad = decoder start = the last id, as opus-mt) in ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    vocab = {"</s>": 0, "<unk>": 1} | {f"w{i}": i for i in range(2, sizes.vocab - 1)}
    vocab["<pad>"] = sizes.vocab - 1
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    words.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 0)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )
    config = MarianConfig(
        vocab_size=sizes.vocab,
        d_model=sizes.d_model,
        encoder_layers=sizes.layers,
        decoder_layers=sizes.layers,
        encoder_attention_heads=sizes.heads,
        decoder_attention_heads=sizes.heads,
        encoder_ffn_dim=sizes.ffn,
        decoder_ffn_dim=sizes.ffn,
        max_position_embeddings=max(64, 2 * sizes.length),
        pad_token_id=sizes.vocab - 1,
        eos_token_id=0,
        decoder_start_token_id=sizes.vocab - 1,
        forced_eos_token_id=None,
    )
    torch.manual_seed(seed)
    MarianMTModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def random_texts(sizes: HfSizes, count: int, seed: int = 1) -> list[str]:
    """``count`` inputs of random words (each word one token)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    low, high = sizes.source_tokens
    lengths = torch.randint(low, high, (count,), generator=generator).tolist()
    return [
        " ".join(f"w{i}" for i in torch.randint(2, sizes.vocab - 1, (n,), generator=generator))
        for n in lengths
    ]


def measure_hf(ctx: BenchContext, report: Report) -> None:
    """The group's figures (see the module docstring) into ``report``."""
    import torch

    sizes = SIZES[ctx.size]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="attnscope-hf-bench-") as folder:
            rounds = compare(save_random_marian(Path(folder), sizes), sizes)
    finally:
        torch.set_num_threads(previous)
    report.workload["hf"] = {
        **asdict(sizes),
        "model": "random MarianMTModel through load_inference_model(DIR)",
        "ours": "translate(), attention and top-10 alternatives recorded every step",
        "theirs": "generate(), eager attention, no attentions returned",
        "threads": 1,
        "clock": "CPU seconds of this process (wall under figures)",
    }
    for name in ("ours_greedy", "generate_greedy", "ours_beam", "generate_beam"):
        tokens = sizes.length * (1 if name.endswith("greedy") else sizes.batch)
        report.add_samples(f"hf_{name}_cpu_s", rounds[name]["cpu"])
        report.add_samples(f"hf_{name}_wall_s", rounds[name]["wall"])
        report.add_samples(f"hf_{name}_tokens_per_s", [tokens / s for s in rounds[name]["cpu"]])
    report.add_samples(
        "hf_greedy_step_ms", [1000 * s / sizes.length for s in rounds["ours_greedy"]["cpu"]]
    )
    report.add_samples(
        "hf_generate_greedy_step_ms",
        [1000 * s / sizes.length for s in rounds["generate_greedy"]["cpu"]],
    )
    report.values["hf_greedy_step_ms"] = report.median("hf_greedy_step_ms")
    report.ratio("hf_greedy_vs_generate_ratio", _ratios(rounds, "greedy"))
    report.ratio("hf_beam_vs_generate_ratio", _ratios(rounds, "beam"))


def _ratios(rounds: dict[str, dict[str, list[float]]], kind: str) -> list[float]:
    """Per round: generate()'s CPU seconds over ours (= our tokens/s over its)."""
    theirs, ours = rounds[f"generate_{kind}"]["cpu"], rounds[f"ours_{kind}"]["cpu"]
    return [t / o for t, o in zip(theirs, ours, strict=True)]


def compare(folder: Path, sizes: HfSizes) -> dict[str, dict[str, list[float]]]:
    """Both sides on the model in ``folder``, round by round: {run: {"cpu", "wall"}}."""
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    model = load_inference_model(folder, device="cpu")
    texts = random_texts(sizes, sizes.batch)
    forced = DecodeConfig(
        min_length=sizes.length, max_length=sizes.length, max_length_ratio=0.0, n_best=1
    )
    greedy = replace(forced, strategy="greedy")
    beam = replace(forced, strategy="beam", beam_size=sizes.beam)
    runs: dict[str, Callable[[], int]] = {
        "ours_greedy": lambda: _ours(model, texts[:1], greedy),
        "generate_greedy": lambda: _generate(model.hf, texts[:1], 1, sizes.length),
        "ours_beam": lambda: _ours(model, texts, beam),
        "generate_beam": lambda: _generate(model.hf, texts, sizes.beam, sizes.length),
    }
    for name, run in runs.items():  # warm-up, and both sides make the tokens they should
        tokens = run()
        expected = sizes.length * (1 if "greedy" in name else sizes.batch)
        if tokens != expected:
            raise RuntimeError(f"hf bench: {name} made {tokens} tokens, not {expected}")
    samples = {name: {"cpu": [], "wall": []} for name in runs}
    for index in range(sizes.rounds):
        for kind in ("greedy", "beam"):
            pair = [f"ours_{kind}", f"generate_{kind}"]
            for name in pair if index % 2 == 0 else pair[::-1]:
                cpu, wall = _timed(runs[name])
                samples[name]["cpu"].append(cpu)
                samples[name]["wall"].append(wall)
        logger.info("hf bench: round %d of %d", index + 1, sizes.rounds)
    return samples


def _ours(model: Any, texts: list[str], config: Any) -> int:
    """Translate through the app's batch path; the tokens made."""
    return sum(len(t.token_ids) for t in model.translate(texts, config, batch_size=len(texts)))


def _generate(hf: Any, texts: list[str], beams: int, length: int) -> int:
    """generate() with exactly ``length`` new tokens per row; the tokens made."""
    import torch

    batch = hf.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        out = hf.model.generate(
            **batch,
            num_beams=beams,
            do_sample=False,
            min_new_tokens=length,
            max_new_tokens=length,
            forced_eos_token_id=None,
        )  # (N, 1 + length): the start token, then the new ones
    return (out.size(1) - 1) * out.size(0)


def _timed(run: Callable[[], int]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall
