"""End to end on the bundled default de->en model: a decode shown in the app, explained."""

from __future__ import annotations

import numpy as np
import pytest

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.explain import explain, mean_agreement
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import default_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model():
    path = default_checkpoint()
    if path is None:
        pytest.skip("no bundled checkpoint")
    return load_inference_model(path, device="cpu")


def test_the_default_models_decode_is_explained(default_model):
    source = "Ein Hund rennt über die Wiese."
    opened = default_model.open_session(source, DecodeConfig(max_length=12))
    opened.run()
    snapshot = opened.snapshot()
    tokens = tuple(opened.session.tokens)
    shown = np.array([step.log_prob for step in snapshot.steps])
    saliency = explain(default_model, source, tokens, method="saliency")
    assert saliency.scores.shape == (len(tokens), snapshot.attention.shape[2])  # (T, S)
    np.testing.assert_allclose(saliency.target_values, shown, atol=1e-4)
    assert (saliency.scores >= 0).all()
    agreement = mean_agreement(snapshot.attention.mean(axis=1), saliency.scores)
    assert -1 <= agreement.spearman <= 1 and 0 <= agreement.jsd <= 1
    step = len(tokens) // 2
    ig = explain(default_model, source, tokens, method="ig", steps=[step])
    change = ig.target_values - ig.baseline_values
    np.testing.assert_allclose(ig.scores.sum(axis=1), change, rtol=0.01, atol=1e-3)
