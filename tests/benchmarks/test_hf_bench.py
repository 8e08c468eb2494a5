"""benchmarks/hf.py: the random folder opens through the app's loader, both sides do the
same work, and the group fills its figures. Nothing here looks at how fast anything ran."""

from __future__ import annotations

import pytest
import torch

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from benchmarks import hf
from benchmarks.report import BenchContext, Report

SIZES = hf.SIZES["tiny"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_inference_model(
        hf.save_random_marian(tmp_path_factory.mktemp("hf"), SIZES), device="cpu"
    )


def test_ours_and_generate_make_the_same_greedy_tokens_length_long(model):
    texts = hf.random_texts(SIZES, SIZES.batch)
    config = DecodeConfig(
        strategy="greedy", min_length=SIZES.length, max_length=SIZES.length, max_length_ratio=0.0
    )
    ours = [t.token_ids for t in model.translate(texts, config, batch_size=len(texts))]
    batch = model.hf.tokenizer(texts, return_tensors="pt", padding=True)
    with torch.inference_mode():
        theirs = model.hf.model.generate(
            **batch,
            num_beams=1,
            do_sample=False,
            min_new_tokens=SIZES.length,
            max_new_tokens=SIZES.length,
            forced_eos_token_id=None,
        )
    assert [len(tokens) for tokens in ours] == [SIZES.length] * len(texts)
    assert [model.hf.vocab.model_ids(tokens) for tokens in ours] == theirs[:, 1:].tolist()


def test_the_group_fills_its_figures():
    report = Report(size="tiny")
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        hf.measure_hf(BenchContext(None, 2, None, None, "tiny"), report)
        assert torch.get_num_threads() == 2  # the group runs on one thread, then gives it back
    finally:
        torch.set_num_threads(previous)
    for key in hf.KEYS:
        assert report.values[key] > 0
    assert report.figures["hf_beam_vs_generate_ratio"]["n"] == SIZES.rounds
    assert report.workload["hf"]["beam"] == SIZES.beam
