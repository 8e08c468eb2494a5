"""Attribution on tiny Hugging Face models (engine/explain/hf_target.py): the targets are
the decode's own log-probs, gradients agree with finite differences, integrated
gradients are complete, occlusion is the drop it says, edits are replayed, and the
input is the embeddings the encoder really reads (Marian's scale included)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from attnscope.engine.cli import main
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.explain import METHODS, ExplainError, agreement, explain
from attnscope.engine.explain.hf_target import HfTargetFunction, encoder_input, pad_embeddings
from attnscope.engine.hf.loading import load_hf_folder
from attnscope.engine.inference import load_inference_model
from attnscope.engine.interventions import AttentionEdit, pin
from attnscope.engine.session import DecodeSession

from .tiny_models import save_tiny_model
from .tiny_multilingual import save_tiny_multilingual

SENTENCE = "the cat sat on the mat"


def _model(loaded):
    """What explain() reads of an InferenceModel opened on a folder (contract 1)."""
    return SimpleNamespace(hf=loaded, model=loaded.step_model, task="translation", device="cpu")


def _decoded(loaded, edits=()):
    """The greedy decode of SENTENCE: (session, token ids (AttnScope), per-step log-probs)."""
    batch = loaded.tokenizer([SENTENCE], return_tensors="pt")
    memory = loaded.step_model.encode(batch.input_ids, batch.attention_mask)
    config = DecodeConfig(strategy="greedy", max_length=6, max_length_ratio=0)
    session = DecodeSession(loaded.step_model, memory, config)
    for edit in edits:
        session.run(until=edit.step)
        session.edit_attention(edit.step, edit)
    session.run()
    steps = session.history
    return session, tuple(session.tokens), np.array([s.log_probs[0] for s in steps])


def _target(loaded, tokens, **options):
    ids = torch.tensor([loaded.text.encode(SENTENCE)])
    return HfTargetFunction(loaded, source=ids, tokens=tokens, **options), encoder_input(
        loaded, ids
    )


def test_the_targets_are_the_decodes_own_log_probs(loaded):
    _, tokens, log_probs = _decoded(loaded)
    result = explain(_model(loaded), SENTENCE, tokens, method="saliency")
    np.testing.assert_allclose(result.target_values, log_probs, atol=1e-4)
    assert result.scores.shape == (len(tokens), len(loaded.text.encode(SENTENCE)))


def test_input_x_gradient_agrees_with_finite_differences(marian):
    """Each position's score is the derivative along that position's own embedding."""
    _, tokens, _ = _decoded(marian)
    result = explain(_model(marian), SENTENCE, tokens, method="input_x_gradient", steps=[1])
    target, values = _target(marian, tokens)
    step, eps = 1, 1e-3
    for position in range(values.size(1)):
        along = torch.zeros_like(values)
        along[0, position] = values[0, position]  # d/da f(x + a x_j) at a = 0
        with torch.no_grad():
            up = target.values(values + eps * along)[0, step]
            down = target.values(values - eps * along)[0, step]
        slope = float(up - down) / (2 * eps)
        assert result.scores[0, position] == pytest.approx(slope, rel=0.02, abs=1e-3)


def test_integrated_gradients_are_complete(loaded):
    _, tokens, _ = _decoded(loaded)
    # T5's feed-forward is ReLU: the path is smooth only piecewise, and Gauss-Legendre
    # needs more points there (48 left 0.022 vs 0.017 on one step; GELU ones are exact)
    points = 256 if loaded.model.config.model_type == "t5" else 48
    result = explain(_model(loaded), SENTENCE, tokens, method="ig", ig_steps=points)
    change = result.target_values - result.baseline_values
    assert np.abs(change).max() > 0.01  # the test means something
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=1e-3)


def test_occlusion_is_the_drop_when_a_position_reads_the_pad_embedding(bart_loaded):
    _, tokens, _ = _decoded(bart_loaded)
    result = explain(_model(bart_loaded), SENTENCE, tokens, method="occlusion")
    target, values = _target(bart_loaded, tokens)
    pad = pad_embeddings(bart_loaded, torch.tensor([bart_loaded.text.encode(SENTENCE)]))
    with torch.no_grad():
        original = target.values(values)[0]
        for position in (0, values.size(1) - 1):
            occluded = values.clone()
            occluded[0, position] = pad[0, position]
            drop = (original - target.values(occluded)[0]).numpy()
            np.testing.assert_allclose(result.scores[:, position], drop, atol=1e-5)


def test_attention_edits_are_replayed(marian):
    """With an edit at step 0, the targets are the edited decode's log-probs."""
    _, plain, _ = _decoded(marian)
    session, _, _ = _decoded(marian)
    weights = pin(session.attention_matrix()[0], 2)
    edit = AttentionEdit(0, weights)
    _, tokens, log_probs = _decoded(marian, edits=[edit])
    result = explain(_model(marian), SENTENCE, tokens, method="saliency", edits=[edit])
    np.testing.assert_allclose(result.target_values, log_probs, atol=1e-4)
    unedited = explain(_model(marian), SENTENCE, tokens, method="saliency")
    assert np.abs(unedited.target_values[0] - result.target_values[0]) > 1e-3
    with pytest.raises(ExplainError, match="rows"):
        explain(_model(marian), SENTENCE, tokens, method="saliency", edits=[edit_of(3)])
    del plain


def edit_of(rows: int) -> AttentionEdit:
    return AttentionEdit(0, np.full((rows, 7), 1 / 7, dtype=np.float32))


@pytest.fixture(scope="module")
def bart_loaded(tmp_path_factory):
    return load_hf_folder(save_tiny_model(tmp_path_factory.mktemp("bart"), "bart", seed=3))


@pytest.fixture(scope="module")
def scaled_marian(tmp_path_factory):
    """A Marian folder with scale_embedding on, as opus-mt models have it."""
    folder = save_tiny_model(tmp_path_factory.mktemp("scaled"), "marian", seed=3, eos_bias=2.0)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"scale_embedding": True}))
    return load_hf_folder(folder)


def test_the_input_is_what_a_scaling_encoder_reads(scaled_marian):
    ids = torch.tensor([scaled_marian.text.encode(SENTENCE)])
    encoder = scaled_marian.model.get_encoder()
    assert encoder.embed_scale == pytest.approx(4.0)  # sqrt(d_model 16)
    with torch.no_grad():
        expected = encoder.embed_tokens(ids) * 4.0
    torch.testing.assert_close(encoder_input(scaled_marian, ids), expected)
    _, tokens, log_probs = _decoded(scaled_marian)
    result = explain(_model(scaled_marian), SENTENCE, tokens, method="ig", ig_steps=32)
    np.testing.assert_allclose(result.target_values, log_probs, atol=1e-4)
    change = result.target_values - result.baseline_values
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=1e-3)


def test_an_encoder_that_reads_its_embeddings_otherwise_is_refused(scaled_marian, monkeypatch):
    encoder = scaled_marian.model.get_encoder()
    monkeypatch.setattr(encoder, "embed_scale", 1.0)  # our input would miss the scale ...
    monkeypatch.setattr(encoder, "forward", _scaling_forward(encoder.forward))  # ... it has
    _, tokens, _ = _decoded(scaled_marian)
    with pytest.raises(ExplainError, match="does not read its token embeddings"):
        explain(_model(scaled_marian), SENTENCE, tokens, method="saliency")


def _scaling_forward(forward):
    def scaled(input_ids=None, inputs_embeds=None, **kwargs):
        if inputs_embeds is None:
            inputs_embeds = forward.__self__.embed_tokens(input_ids) * 4.0
        return forward(inputs_embeds=inputs_embeds, **kwargs)

    return scaled


def test_a_hf_captioner_is_refused_with_one_message(marian):
    """A captioner folder's step model is not HfStepModel (engine/hf/vision.py)."""
    model = SimpleNamespace(hf=marian, model=object(), task="captioning", device="cpu")
    with pytest.raises(ExplainError, match="captioners"):
        explain(model, np.zeros((8, 8, 3), np.uint8), (3,), method="saliency")


def test_explain_command_on_a_folder_agrees_against_the_mean_over_layers_and_heads(
    marian_dir, tmp_path, capsys
):
    source = tmp_path / "src.txt"
    source.write_text(f"{SENTENCE}\n", encoding="utf-8")
    argv = ["explain", "-c", str(marian_dir), "--src", str(source), "--json"]
    assert main([*argv, "--device", "cpu", "--method", "saliency", "--max-length", "6"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["attention_mean_of"] == {"layers": 2, "heads": 2}
    model = load_inference_model(marian_dir, device="cpu")
    opened = model.open_session(SENTENCE, DecodeConfig(strategy="greedy", max_length=6))
    opened.session.run()
    expected = model.model.split_layers(opened.session.attention_matrix()).mean(axis=(1, 2))
    np.testing.assert_allclose(record["attention"], expected, atol=1e-5)
    scores = np.asarray(record["methods"]["saliency"]["scores"])
    assert scores.shape == expected.shape
    rho = [row["spearman"] for row in record["methods"]["saliency"]["agreement"]]
    assert rho == pytest.approx(
        [agreement(a, s).spearman for a, s in zip(expected, scores, strict=True)], abs=1e-4
    )


def test_batches_of_any_size_give_the_same_attributions(marian, monkeypatch):
    """IG's points and saliency's jobs split over batches of 2 equal one batch."""
    _, tokens, _ = _decoded(marian)
    whole = {m: explain(_model(marian), SENTENCE, tokens, method=m, ig_steps=6) for m in METHODS}
    monkeypatch.setattr("attnscope.engine.explain.methods.rows_per_batch", lambda *a, **k: 2)
    monkeypatch.setattr("attnscope.engine.explain.methods.occlusion_rows", lambda *a, **k: 2)
    for method, expected in whole.items():
        split = explain(_model(marian), SENTENCE, tokens, method=method, ig_steps=6)
        np.testing.assert_allclose(split.scores, expected.scores, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("family", ["mbart50", "m2m100", "nllb"])
def test_multilingual_families_are_explained_and_edited(family, tmp_path):
    """mBART-50, M2M100 and NLLB: the targets are the decode's log-probs after the forced
    target-language token (explained as the model's own prediction of it, the decode
    gives it log-prob 0), integrated gradients are complete, and an edit of a step with
    its own attention changes nothing."""
    folder = save_tiny_multilingual(tmp_path / family, family)  # runs to the length limit
    model = load_inference_model(folder, device="cpu")
    opened = model.open_session(SENTENCE, DecodeConfig(strategy="greedy", max_length=5))
    opened.session.run()
    tokens = opened.session.tokens
    assert len(tokens) > 2  # the language token and more
    decoded = [step.log_probs[0] for step in opened.session.history]
    result = explain(model, SENTENCE, tokens, method="ig", ig_steps=48)
    np.testing.assert_allclose(result.target_values[1:], decoded[1:], atol=1e-4)
    change = result.target_values - result.baseline_values
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=2e-3)
    attention = opened.session.attention_matrix()
    opened.session.edit_attention(1, attention[1])
    opened.session.run()
    assert opened.session.tokens == tokens
