"""A Hugging Face folder as an InferenceModel: the app's sessions and batches equal generate()."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, DecodeConfig
from attnscope.engine.hf.inference import HfInferenceModel, load_hf_inference_model
from attnscope.engine.inference import load_inference_model
from attnscope.engine.pieces import EOS_PIECE
from attnscope.engine.reference import force_reference

from .tiny_models import SENTENCES

MAX_NEW = 12


@pytest.fixture(scope="module")
def model(loaded) -> HfInferenceModel:
    """Each family's tiny folder (conftest's ``loaded``) as the app's model."""
    return HfInferenceModel(loaded, torch.device("cpu"))


def _config(**settings) -> DecodeConfig:
    return DecodeConfig(**{"max_length": MAX_NEW, "max_length_ratio": 0} | settings)


def _generated(model: HfInferenceModel, sentence: str, **settings) -> list[int]:
    """generate()'s tokens for one sentence (model ids, start token dropped, up to eos)."""
    batch = model.hf.tokenizer([sentence], return_tensors="pt")
    out = model.hf.model.generate(
        **batch, do_sample=False, max_new_tokens=MAX_NEW, forced_eos_token_id=None, **settings
    )
    tokens = out[0, 1:].tolist()
    eos = model.hf.model.config.eos_token_id
    return tokens[: tokens.index(eos) + 1] if eos in tokens else tokens


def test_the_one_loader_opens_a_folder(marian_dir):
    model = load_inference_model(marian_dir, device="cpu")
    assert isinstance(model, HfInferenceModel)
    assert model.source_path == marian_dir
    summary = model.summary()
    assert summary.architecture == "Marian 2+2 layers, d_model 16, 2 heads"
    assert (summary.heads, summary.attention, summary.task) == (
        4,
        "scaled dot-product (cross)",
        "translation",
    )
    assert getattr(summary, "layers", 2) == 2
    assert summary.info["family"] == "marian"
    assert summary.target_vocab[EOS_ID] == EOS_PIECE
    assert summary.tgt_vocab == len(summary.target_vocab) == model.hf.vocab.size


@pytest.mark.parametrize(
    ("strategy", "generate_settings"),
    [
        ({"strategy": "greedy"}, {"num_beams": 1}),
        (
            {"strategy": "beam", "beam_size": 3, "length_penalty": "none"},
            {"num_beams": 3, "early_stopping": True, "length_penalty": 0.0},
        ),
    ],
)
def test_a_session_decodes_as_generate(model, strategy, generate_settings):
    for sentence in SENTENCES[:2]:
        opened = model.open_session(sentence, _config(**strategy))
        opened.run()
        snapshot = opened.snapshot()
        tokens = [step.token_id for step in snapshot.steps]
        assert model.hf.vocab.model_ids(tokens) == _generated(model, sentence, **generate_settings)
        pieces = model.source_pieces(sentence)
        assert pieces[-1] == EOS_PIECE and len(pieces) == len(model.source_ids(sentence))
        assert snapshot.source_pieces == pieces
        assert model.src_tokenizer.pieces(sentence) == list(pieces[:-1])  # as TextTokenizer's
        assert snapshot.attention.shape == (len(tokens), model.model.num_heads, len(pieces))
        np.testing.assert_allclose(snapshot.attention.sum(axis=-1), 1.0, atol=1e-5)


def test_step_back_force_and_the_beam_tree(model):
    config = _config(strategy="beam", beam_size=3, min_length=5)
    opened = model.open_session(SENTENCES[0], config)
    opened.run()
    whole = opened.snapshot()
    for _ in range(3):
        opened.back()
    opened.run()
    again = opened.snapshot()
    assert again.target_pieces == whole.target_pieces
    np.testing.assert_array_equal(again.attention, whole.attention)
    heads, length = model.model.num_heads, len(whole.source_pieces)
    assert whole.tree is not None and len(whole.node_pieces) == len(whole.tree)
    assert whole.node_attention.shape == (len(whole.tree), heads, length)
    candidate = int(whole.steps[1].topk_ids[1])  # the second choice at step 1
    opened.force(candidate, at_step=1)
    opened.run()
    forced = opened.snapshot()
    assert forced.steps[1].token_id == candidate and forced.steps[1].forced
    assert forced.steps[1].piece == model.piece(candidate)


def test_translate_equals_generate_decoded_by_the_tokenizer(model):
    translations = model.translate(SENTENCES, _config(strategy="greedy"))
    batch = model.hf.tokenizer(SENTENCES, return_tensors="pt", padding=True)
    out = model.hf.model.generate(
        **batch, do_sample=False, max_new_tokens=MAX_NEW, forced_eos_token_id=None
    )
    expected = model.hf.tokenizer.batch_decode(out, skip_special_tokens=True)
    assert [t.text for t in translations] == expected
    for sentence, translation in zip(SENTENCES, translations, strict=True):
        assert translation.source_pieces == model.source_pieces(sentence)
        assert translation.attention.shape[1:] == (
            model.model.num_heads,
            len(model.source_ids(sentence)),
        )


def test_a_reference_is_forced_and_checked(model):
    reference = "the big dog"
    ids = model.target_ids(reference)
    opened, report = force_reference(model, SENTENCES[0], _config(), reference)
    snapshot = opened.snapshot()
    assert [s.token_id for s in snapshot.steps] == [*ids, EOS_ID]
    assert snapshot.target_pieces == (*(model.piece(i) for i in ids), EOS_PIECE)
    assert len(report.token_log_probs) == len(ids) + 1


def test_load_hf_inference_model_puts_it_on_the_device(marian_dir):
    model = load_hf_inference_model(marian_dir, "cpu")
    assert model.device == torch.device("cpu")
    assert next(model.hf.model.parameters()).device == torch.device("cpu")


def _first_log_probs(model: HfInferenceModel) -> torch.Tensor:
    """(N, V) the first step's log-probs for every sentence, AttnScope ids."""
    memory = model.encode_texts(SENTENCES)
    bos = torch.full((len(SENTENCES),), BOS_ID)
    return model.model.step(bos, model.model.init_state(memory), memory)[0]


def test_the_folders_banned_tokens_are_never_chosen(marian_dir, tmp_path):
    """Real opus-mt folders ban their pad (generation_config's bad_words_ids), which the
    tiny model otherwise gives some probability: the step bans it as generate() does."""
    folder = shutil.copytree(marian_dir, tmp_path / "banned")
    settings = json.loads((folder / "generation_config.json").read_text())
    pad = settings["pad_token_id"]
    free = load_inference_model(marian_dir, device="cpu")
    ours = free.hf.vocab.our_ids([pad])[0]
    assert (_first_log_probs(free)[:, ours] > -10).all()
    banned = settings | {"bad_words_ids": [[pad]]}
    (folder / "generation_config.json").write_text(json.dumps(banned))
    model = load_inference_model(folder, device="cpu")
    assert (_first_log_probs(model)[:, ours] == float("-inf")).all()
    beam = {"strategy": "beam", "beam_size": 3, "length_penalty": "none"}
    for sentence in SENTENCES:
        opened = model.open_session(sentence, _config(**beam))
        opened.run()
        tokens = [step.token_id for step in opened.snapshot().steps]
        generated = _generated(
            model, sentence, num_beams=3, early_stopping=True, length_penalty=0.0
        )
        assert model.hf.vocab.model_ids(tokens) == generated
