"""The debugger's attention conditions and compare on Hugging Face folders: both read the
mean over every layer and head of the cross-attention (checked by hand on a tiny
Marian), compare pairs a folder with a folder or a bundled RNN checkpoint of the same
languages (``attnscope compare -c DIR -c CKPT``), and other languages are refused."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from attnscope.engine.cli import main
from attnscope.engine.compare import (
    IncompatibleModelsError,
    compare_attention,
    compatible,
    force_output,
)
from attnscope.engine.debugger.breakpoints import (
    Breakpoints,
    EntropyAbove,
    HypothesisTrace,
    LowProbability,
    NoEos,
    OverCovered,
    RepeatedNgram,
    StuckAttention,
    TokenProduced,
    TraceLabels,
    UncoveredAtEos,
)
from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.explain.hf_target import HfTargetFunction, encoder_input
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import resource_dir

from .tiny_models import save_tiny_model, word_tokenizer

SENTENCE = "the cat sat on the mat"
CONFIG = DecodeConfig(strategy="greedy", max_length=8, max_length_ratio=0)


def _folder(tmp_path_factory, name: str, *, seed: int, target: str = "en"):
    """A tiny Marian folder whose tokenizer says it translates German into ``target``
    (where opus-mt folders keep it: source_lang / target_lang)."""
    tokenizer = word_tokenizer("marian")
    tokenizer.init_kwargs |= {"source_lang": "de", "target_lang": target}
    return save_tiny_model(
        tmp_path_factory.mktemp(name), "marian", seed=seed, eos_bias=2.0, tokenizer=tokenizer
    )


@pytest.fixture(scope="module")
def deen_dir(tmp_path_factory):
    return _folder(tmp_path_factory, "deen", seed=3)


@pytest.fixture(scope="module")
def deen(deen_dir):
    return load_inference_model(deen_dir, device="cpu")


def _layer_head_mean(model, attention: np.ndarray) -> np.ndarray:
    """(T, L·H, S) -> (T, S): the mean over layers, then heads, by its layer axis."""
    return model.model.split_layers(attention).mean(axis=(1, 2))


# -- debugger ------------------------------------------------------------------------------
def _hits(opened, conditions) -> list:
    """Every breakpoint hit of ``conditions`` over the whole decode of ``opened``, run
    again from the start and resumed after each stop."""
    breakpoints = Breakpoints(conditions)
    opened.session.reset()
    loop = opened.session.steps(stop=breakpoints.stop_hook(opened))
    while not opened.session.done:
        loop.stopped = None
        loop.run()
    return list(breakpoints.hits)


def test_attention_conditions_read_the_mean_over_layers_and_heads(deen):
    opened = deen.open_session(SENTENCE, CONFIG)
    opened.session.run()
    attention = opened.session.attention_matrix()  # (T, L·H, S)
    assert attention.shape[1] == 4  # 2 layers x 2 heads
    mean = _layer_head_mean(deen, attention)  # (T, S)
    coverage = np.cumsum(mean, axis=0)
    argmax = mean.argmax(axis=1)
    content = attention.shape[2] - 1  # the source's </s> left out
    tokens = opened.session.tokens
    # thresholds from the by-hand coverage, so each condition has something to find
    tau = float(np.median(coverage[:, :content]))
    low = float(coverage[-1, :content].max())  # at eos, every word is below this but one
    conditions = [StuckAttention(k=2), OverCovered(tau=tau), UncoveredAtEos(threshold=low)]
    hits = {(hit.condition, hit.step) for hit in _hits(opened, conditions)}

    stuck = {t for t in range(1, len(tokens)) if argmax[t] == argmax[t - 1]}
    stuck -= {t for t in stuck if t - 1 in stuck}  # a run fires once, at its k-th step
    over = {
        t
        for t in range(len(tokens))
        if (
            (coverage[t, :content] > tau) & ((coverage[t - 1, :content] <= tau) if t else True)
        ).any()
    }
    at_eos = {t for t in range(len(tokens)) if tokens[t] == EOS_ID}
    assert at_eos, "the tiny model should end with eos within 8 steps"
    assert {t for c, t in hits if c == "stuck_attention"} == stuck
    assert {t for c, t in hits if c == "over_covered"} == over
    assert {t for c, t in hits if c == "uncovered_at_eos"} >= at_eos
    assert over and stuck  # the test means something


# -- compare -------------------------------------------------------------------------------
def test_two_folders_compare_attention_as_the_mean_over_layers_and_heads(deen, tmp_path_factory):
    other = load_inference_model(_folder(tmp_path_factory, "deen2", seed=5), device="cpu")
    compatible(deen, other)
    text = "the cat sat"
    forced = [force_output(model, SENTENCE, text, CONFIG) for model in (deen, other)]
    comparison = compare_attention(*(f.snapshot for f in forced))
    assert comparison.level == "piece"  # one tokenizer: piece by piece
    for side, model, output in zip(
        (comparison.a, comparison.b), (deen, other), forced, strict=True
    ):
        expected = _layer_head_mean(model, output.snapshot.attention)
        np.testing.assert_allclose(side, expected, atol=1e-6)


def test_other_languages_are_refused_with_both_named(deen, tmp_path_factory):
    french = load_inference_model(
        _folder(tmp_path_factory, "defr", seed=3, target="fr"), device="cpu"
    )
    with pytest.raises(IncompatibleModelsError, match=r"English.*French|French.*English"):
        compatible(deen, french)


def test_compare_command_pairs_a_folder_with_a_bundled_checkpoint(deen_dir, tmp_path, capsys):
    source = tmp_path / "src.txt"
    source.write_text("the cat sat on the mat\n", encoding="utf-8")
    checkpoint = resource_dir() / "checkpoints" / "deen-multihead.safetensors"
    argv = ["compare", "-c", str(deen_dir), "-c", str(checkpoint), "--src", str(source)]
    assert main([*argv, "--device", "cpu", "--max-length", "8"]) == 0
    out, err = capsys.readouterr()
    assert "A  " in out and "B  " in out
    assert "attention  word level" in out  # two tokenizers: compared per word
    assert "compared 1 of 1 lines" in err


@pytest.mark.parametrize("first", ["<s>", "en_XX", "__de__", "eng_Latn"])
def test_over_covered_leaves_out_a_leading_bos_where_transformers_park_attention(first):
    """BART-like sources start with <s>, multilingual ones with a language code; three
    steps all on it (and a little on ▁b)."""
    pieces = (first, "▁a", "▁b", "</s>")
    row = np.array([0.7, 0.0, 0.3, 0.0], dtype=np.float32)
    attention = np.tile(row, (3, 4, 1))  # (T, L·H, S): every layer and head alike
    trace = HypothesisTrace.from_arrays(
        [5, 6, EOS_ID],
        np.log([0.5, 0.5, 0.5]),
        None,
        attention,
        len(pieces),
        labels=TraceLabels(source_pieces=pieces),
    )
    hits = Breakpoints([OverCovered(tau=0.5)]).scan(trace)
    # the first piece passes 0.5 at step 0 and is left out; ▁b passes it at step 1 (0.6)
    assert [(hit.step, "'▁b'" in hit.message, first in hit.message) for hit in hits] == [
        (1, True, False)
    ]


def test_translate_flag_on_a_folder_scans_the_mean_over_layers_and_heads(
    deen, deen_dir, tmp_path, capsys
):
    source = tmp_path / "src.txt"
    source.write_text(f"{SENTENCE}\n", encoding="utf-8")
    argv = ["translate", "-c", str(deen_dir), "--json", "--flag", "stuck_attention=2"]
    assert main([*argv, "--device", "cpu", "--max-length", "8", "-i", str(source)]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    opened = deen.open_session(SENTENCE, CONFIG)
    opened.session.run()
    argmax = _layer_head_mean(deen, opened.session.attention_matrix()).argmax(axis=1)
    stuck = [t for t in range(1, len(argmax)) if argmax[t] == argmax[t - 1]]
    stuck = [t for t in stuck if t - 1 not in stuck]  # a run fires once, at its 2nd step
    assert stuck and [flag["step"] for flag in record["flags"]] == stuck


def test_the_other_conditions_fire_where_a_teacher_forced_pass_says(deen):
    """Entropy, low probability, repeated token, no eos and token produced on a HF decode,
    against the full distributions of one teacher-forced pass over the decoded tokens."""
    opened = deen.open_session(SENTENCE, replace(CONFIG, step_entropy=True))
    opened.session.run()
    tokens = opened.session.tokens
    ids = torch.tensor([deen.source_ids(SENTENCE)])
    target = HfTargetFunction(deen.hf, source=ids, tokens=tokens)
    with torch.no_grad():
        log_probs = target.log_probs(encoder_input(deen.hf, ids), len(tokens))[0]  # (T, V)
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1).numpy()
    chosen = log_probs.gather(1, torch.tensor(tokens)[:, None])[:, 0].exp().numpy()
    # halfway between the two highest entropies and the two lowest probabilities: no ties
    high = float(np.sort(entropy)[-2:].mean())
    low = float(np.sort(chosen)[:2].mean())
    conditions = [
        EntropyAbove(threshold=high),
        LowProbability(p=low),
        RepeatedNgram(n=1),
        NoEos(max_steps=3),
        TokenProduced(token_id=tokens[1]),
    ]
    hits = _hits(opened, conditions)
    found = {
        name: [h.step for h in hits if h.condition == name]
        for name in ("entropy", "low_probability", "repeated_ngram", "no_eos", "token")
    }
    steps = range(len(tokens))
    repeats = [t for t in steps if tokens[t] in tokens[:t] and tokens[t] != EOS_ID]
    assert found["entropy"] == [t for t in steps if entropy[t] > high]
    assert found["low_probability"] == [t for t in steps if chosen[t] < low]
    assert found["repeated_ngram"] == [t for t in repeats if t - 1 not in repeats]
    assert found["no_eos"] == ([3] if len(tokens) > 3 and tokens[3] != EOS_ID else [])
    assert found["token"] == [t for t in steps if tokens[t] == tokens[1]]
    assert found["entropy"] and found["low_probability"]  # the test means something
