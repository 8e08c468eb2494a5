"""A folder whose generation config sets ``forced_eos_token_id`` (opus-mt, BART, mBART):
an output cut at the length limit ends with that token, as generate()'s does."""

from __future__ import annotations

import json

import pytest

from attnscope.engine.decoding.config import EOS_ID, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.hf.loading import load_hf_folder

from .tiny_models import SENTENCES, save_tiny_model

LIMIT = 4  # short enough that every output of the tiny model is cut


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    """A tiny Marian whose folder says forced_eos_token_id = eos (an eos bias of 1 leaves
    its outputs longer than LIMIT)."""
    folder = save_tiny_model(tmp_path_factory.mktemp("forced"), "marian", seed=3, eos_bias=1.0)
    for name in ("config.json", "generation_config.json"):
        path = folder / name
        if path.exists():
            settings = json.loads(path.read_text())
            settings["forced_eos_token_id"] = settings["eos_token_id"]
            path.write_text(json.dumps(settings))
    return load_hf_folder(folder)


def _decodes(loaded, strategy: str, beams: int):
    batch = loaded.tokenizer(SENTENCES, return_tensors="pt", padding=True)
    memory = loaded.step_model.encode(batch.input_ids, batch.attention_mask)
    config = DecodeConfig(
        strategy=strategy,
        beam_size=beams,
        max_length=LIMIT,
        max_length_ratio=0,
        length_penalty="average",
        topk_alternatives=0,
    )
    ours = [
        loaded.vocab.model_ids(r.best.tokens) for r in decode(loaded.step_model, memory, config)
    ]
    out = loaded.model.generate(
        **batch, do_sample=False, max_new_tokens=LIMIT, num_beams=beams, early_stopping=True
    )
    eos = loaded.model.config.eos_token_id
    theirs = []
    for row in out[:, 1:].tolist():  # without the start token, up to the first eos
        theirs.append(row[: row.index(eos) + 1] if eos in row else row)
    return ours, theirs


@pytest.mark.parametrize(("strategy", "beams"), [("greedy", 1), ("beam", 3)])
def test_an_output_cut_at_the_limit_ends_with_eos_as_generate_does(forced, strategy, beams):
    assert forced.step_model.forced_last_token == forced.model.config.eos_token_id
    ours, theirs = _decodes(forced, strategy, beams)
    assert ours == theirs
    cut = [tokens for tokens in ours if len(tokens) == LIMIT]
    assert cut, "some output should reach the length limit"
    assert all(tokens[-1] == forced.model.config.eos_token_id for tokens in cut)


def test_the_forced_eos_has_probability_one_at_the_last_step(forced):
    batch = forced.tokenizer(SENTENCES[:1], return_tensors="pt")
    memory = forced.step_model.encode(batch.input_ids, batch.attention_mask)
    config = DecodeConfig(strategy="greedy", max_length=LIMIT, max_length_ratio=0)
    result = decode(forced.step_model, memory, config)[0]
    assert result.best.tokens[-1] == EOS_ID
    assert result.steps[-1].log_probs[0] == pytest.approx(0.0)


def test_a_folder_without_it_forces_nothing(marian):
    assert marian.step_model.forced_last_token is None
