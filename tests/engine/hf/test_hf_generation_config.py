"""A folder's generation_config.json becomes the recommended decoding: the options that
mean the same in AttnScope are applied (and decode as generate() does), the others named."""

from __future__ import annotations

import json

import pytest

from attnscope.engine.decoding.config import MAX_LENGTH, DecodeConfig
from attnscope.engine.decoding.driver import decode
from attnscope.engine.hf.generation import generation_advice
from attnscope.engine.hf.inference import GENERATION_CONFIG, load_hf_inference_model

from .tiny_models import SENTENCES, save_tiny_model

SAYS = {"num_beams": 3, "max_length": 7, "length_penalty": 1.0, "no_repeat_ngram_size": 2}


def _folder(tmp_path, **generation):
    folder = save_tiny_model(tmp_path / "marian", "marian", seed=3, eos_bias=1.0)
    path = folder / "generation_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | generation))
    return folder


def test_the_folders_settings_decode_as_generate_does(tmp_path):
    model = load_hf_inference_model(_folder(tmp_path, **SAYS))
    info = model.info
    assert info["recommended_by"] == GENERATION_CONFIG
    assert info["recommended_unhonoured"] == []
    values = info["recommended_decoding"]
    assert values == {
        "max_length_ratio": 0.0,
        "strategy": "beam",
        "beam_size": 3,
        "length_penalty": "average",
        "max_length": 6,  # generate()'s 7 counts the decoder start token
        "block_ngram_repeat": 2,
    }
    hf = model.hf
    batch = hf.tokenizer(SENTENCES, return_tensors="pt", padding=True)
    memory = hf.step_model.encode(batch.input_ids, batch.attention_mask)
    config = DecodeConfig.from_dict(values | {"topk_alternatives": 0})
    ours = [hf.vocab.model_ids(r.best.tokens) for r in decode(hf.step_model, memory, config)]
    out = hf.model.generate(**batch, early_stopping=True)  # the folder's own settings
    eos = hf.model.config.eos_token_id
    theirs = [row[: row.index(eos) + 1] if eos in row else row for row in out[:, 1:].tolist()]
    assert ours == theirs


def test_options_it_cannot_honour_are_named(tmp_path):
    says = SAYS | {"length_penalty": 0.6, "repetition_penalty": 1.3, "early_stopping": False}
    info = load_hf_inference_model(_folder(tmp_path, **says)).info
    named = " | ".join(info["recommended_unhonoured"])
    for option in ("length_penalty 0.6", "repetition_penalty 1.3", "early_stopping False"):
        assert option in named
    assert info["recommended_decoding"]["length_penalty"] == "average"  # the nearest


def test_a_folder_that_sets_no_decoding_recommends_none(marian_dir):
    assert "recommended_decoding" not in load_hf_inference_model(marian_dir).info


@pytest.mark.parametrize(
    ("says", "named"),
    [
        ({"num_beams": 10**9}, "num_beams 1000000000"),
        ({"num_beams": "5"}, "num_beams '5'"),
        ({"max_length": 10**6}, f"at most {MAX_LENGTH}"),
        ({"num_beams": 2, "no_repeat_ngram_size": 10**6}, "no_repeat_ngram_size 1000000"),
        ({"do_sample": True, "temperature": 0.0}, "temperature 0.0"),
    ],
)
def test_hostile_values_are_named_not_applied(says, named):
    advice = generation_advice(says)
    assert any(named in text for text in advice.unhonoured), advice.unhonoured
    DecodeConfig.from_dict(advice.values)  # what is applied is valid together


def test_sampling_and_min_length_map_as_generate_counts_them():
    advice = generation_advice({"do_sample": True, "top_p": 0.9, "max_new_tokens": 20})
    assert advice.values == {
        "max_length_ratio": 0.0,
        "strategy": "sampling",
        "top_k": 50,  # generate()'s default
        "top_p": 0.9,
        "max_length": 20,
    }
    advice = generation_advice({"num_beams": 1, "max_length": 30, "min_length": 5})
    assert advice.values["strategy"] == "greedy" and advice.values["min_length"] == 4
    assert generation_advice(["num_beams"]) is None
