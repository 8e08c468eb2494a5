"""Attribution of a text model's steps: each method checked against the numbers it stands for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SOURCE, decoded_tokens

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.decoding.config import BOS_ID, PAD_ID
from attnscope.engine.explain import explain
from attnscope.engine.explain.target import TargetFunction
from attnscope.engine.inference import load_inference_model


@pytest.fixture
def double_text(tiny_translation_checkpoint):
    """The tiny de->en model in float64, so finite differences are exact to ~1e-9."""
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    model.model.double()
    return model


def target_of(model, tokens) -> TargetFunction:
    ids = torch.tensor([model.source_ids(SOURCE)])
    return TargetFunction(model.model, source=ids, tokens=tokens)


def test_target_values_are_the_decodes_log_probs(tiny_text):
    opened = tiny_text.open_session(SOURCE, DecodeConfig(max_length=6))
    opened.run()
    tokens = tuple(opened.session.tokens)
    shown = np.array([step.log_prob for step in opened.snapshot().steps])
    for method in ("saliency", "ig", "occlusion"):
        result = explain(tiny_text, SOURCE, tokens, method=method, ig_steps=4)
        np.testing.assert_allclose(result.target_values, shown, atol=1e-5)
        assert result.scores.shape == (len(tokens), len(tiny_text.source_ids(SOURCE)))
        assert result.scores.dtype == np.float32 and result.pixels is None


def test_saliency_is_the_norm_of_finite_difference_gradients(double_text):
    tokens = decoded_tokens(double_text, SOURCE)
    steps = (0, len(tokens) - 1)
    result = explain(double_text, SOURCE, tokens, method="saliency", steps=steps)
    target = target_of(double_text, tokens)
    ids = torch.tensor([double_text.source_ids(SOURCE)])
    embedded = double_text.model.encoder.embedding(ids).detach()  # (1, S, E)
    eps = 1e-6
    length, width = embedded.shape[1:]
    nudges = torch.eye(length * width, dtype=embedded.dtype).view(-1, length, width) * eps
    with torch.no_grad():  # every coordinate nudged up and down, in one batch
        values = target.values(torch.cat([embedded + nudges, embedded - nudges]))
    up, down = values[: len(nudges), list(steps)], values[len(nudges) :, list(steps)]
    grads = ((up - down) / (2 * eps)).T.reshape(len(steps), length, width).numpy()
    np.testing.assert_allclose(result.scores, np.linalg.norm(grads, axis=-1), rtol=1e-5, atol=1e-8)


def test_input_x_gradient_is_the_derivative_along_each_embedding(double_text):
    """sum_e x_se * df/dx_se is d/dk f(x with position s scaled by k) at k = 1."""
    tokens = decoded_tokens(double_text, SOURCE)
    result = explain(double_text, SOURCE, tokens, method="input_x_gradient")
    target = target_of(double_text, tokens)
    ids = torch.tensor([double_text.source_ids(SOURCE)])
    embedded = double_text.model.encoder.embedding(ids).detach()
    eps = 1e-6
    for s in range(embedded.size(1)):
        up, down = embedded.clone(), embedded.clone()
        up[0, s] *= 1 + eps
        down[0, s] *= 1 - eps
        with torch.no_grad():
            slope = (target.values(up) - target.values(down))[0] / (2 * eps)
        np.testing.assert_allclose(result.scores[:, s], slope.numpy(), rtol=1e-5, atol=1e-8)


def test_integrated_gradients_are_complete(tiny_text):
    """Each step's attributions sum to f(x) - f(pad baseline) within 1 %."""
    tokens = decoded_tokens(tiny_text, SOURCE)
    result = explain(tiny_text, SOURCE, tokens, method="ig", ig_steps=32)
    change = result.target_values - result.baseline_values
    assert np.abs(change).max() > 0.01  # the test means something
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=1e-4)


def test_occlusion_is_the_drop_when_a_token_is_replaced_by_pad(tiny_text):
    tokens = decoded_tokens(tiny_text, SOURCE)
    result = explain(tiny_text, SOURCE, tokens, method="occlusion")
    ids = tiny_text.source_ids(SOURCE)
    tgt_in = torch.tensor([[BOS_ID, *tokens[:-1]]])
    targets = torch.tensor(tokens)

    def log_probs_of(source_ids) -> np.ndarray:
        src = torch.tensor([source_ids])
        with torch.no_grad():
            log_probs, _ = tiny_text.model(src, torch.tensor([len(source_ids)]), tgt_in)
        return log_probs[0, torch.arange(len(tokens)), targets].numpy()  # (T,)

    original = log_probs_of(ids)
    for position in range(len(ids)):
        masked = list(ids)
        masked[position] = PAD_ID
        np.testing.assert_allclose(
            result.scores[:, position], original - log_probs_of(masked), atol=1e-5
        )


@pytest.mark.parametrize("method", ["input_x_gradient", "ig", "occlusion"])
def test_contrastive_is_the_difference_of_the_two_attributions(tiny_text, method):
    tokens = decoded_tokens(tiny_text, SOURCE)
    step = len(tokens) // 2
    foil = next(t for t in range(4, tiny_text.config.tgt_vocab) if t != tokens[step])
    as_foil = (*tokens[:step], foil, *tokens[step + 1 :])
    options = {"method": method, "steps": [step], "ig_steps": 16}
    contrast = explain(tiny_text, SOURCE, tokens, foil=foil, **options)
    chosen = explain(tiny_text, SOURCE, tokens, **options)
    rival = explain(tiny_text, SOURCE, as_foil, **options)
    np.testing.assert_allclose(contrast.scores, chosen.scores - rival.scores, atol=1e-5)
    np.testing.assert_allclose(
        contrast.target_values, chosen.target_values - rival.target_values, atol=1e-5
    )
    assert contrast.foil == foil


def test_selected_steps_come_back_in_order(tiny_text):
    tokens = decoded_tokens(tiny_text, SOURCE)
    every = explain(tiny_text, SOURCE, tokens, method="saliency")
    some = explain(tiny_text, SOURCE, tokens, method="saliency", steps=[2, 0, 2])
    assert some.steps == (0, 2)
    np.testing.assert_allclose(some.scores, every.scores[[0, 2]], rtol=1e-5, atol=1e-7)


def test_a_model_without_attention_is_explained(tiny_plain):
    tokens = decoded_tokens(tiny_plain, SOURCE)
    result = explain(tiny_plain, SOURCE, tokens, method="ig", ig_steps=32)
    change = result.target_values - result.baseline_values
    np.testing.assert_allclose(result.scores.sum(axis=1), change, rtol=0.01, atol=1e-4)


def test_integrated_gradients_of_a_whole_output_are_each_steps_own(tiny_text, monkeypatch):
    """One forward shared by every step explained (one backward per step) gives each
    step's attributions alone, also when the points are split over several batches."""
    tokens = decoded_tokens(tiny_text, SOURCE)
    whole = explain(tiny_text, SOURCE, tokens, method="ig", ig_steps=6)
    monkeypatch.setattr("attnscope.engine.explain.methods.rows_per_batch", lambda *a, **k: 3)
    for step in range(len(tokens)):
        alone = explain(tiny_text, SOURCE, tokens, method="ig", ig_steps=6, steps=[step])
        np.testing.assert_allclose(alone.scores[0], whole.scores[step], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(alone.target_values[0], whole.target_values[step], atol=1e-6)
        np.testing.assert_allclose(alone.baseline_values[0], whole.baseline_values[step], atol=1e-6)
