"""Every method against Captum's own implementation on the same target function."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import SOURCE, decoded_tokens

from attnscope.engine.decoding.config import PAD_ID
from attnscope.engine.explain import explain
from attnscope.engine.explain.target import TargetFunction

captum_attr = pytest.importorskip("captum.attr")


def test_each_method_matches_captum(tiny_text):
    tokens = decoded_tokens(tiny_text, SOURCE)
    step = len(tokens) - 1
    ids = torch.tensor([tiny_text.source_ids(SOURCE)])
    target = TargetFunction(tiny_text.model, source=ids, tokens=tokens)
    embedding = tiny_text.model.encoder.embedding
    with torch.no_grad():
        inputs, pad = embedding(ids), embedding(torch.full_like(ids, PAD_ID))  # (1, S, E)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return target.values(x)[:, step]  # (N,)

    ours = {
        method: explain(tiny_text, SOURCE, tokens, method=method, steps=[step], ig_steps=32)
        for method in ("saliency", "input_x_gradient", "ig", "occlusion")
    }
    leaf = inputs.clone().requires_grad_(True)
    saliency = captum_attr.Saliency(forward).attribute(leaf, abs=False)
    ixg = captum_attr.InputXGradient(forward).attribute(leaf)
    ig = captum_attr.IntegratedGradients(forward).attribute(
        inputs, baselines=pad, n_steps=32, method="gausslegendre"
    )
    positions = torch.arange(ids.size(1)).view(1, -1, 1).expand_as(inputs)
    ablation = captum_attr.FeatureAblation(forward).attribute(
        inputs, baselines=pad, feature_mask=positions
    )
    np.testing.assert_allclose(
        ours["saliency"].scores[0], saliency[0].norm(dim=-1).detach(), rtol=1e-4
    )
    np.testing.assert_allclose(
        ours["input_x_gradient"].scores[0], ixg[0].sum(-1).detach(), atol=1e-6
    )
    np.testing.assert_allclose(ours["ig"].scores[0], ig[0].sum(-1).detach(), atol=1e-5)
    np.testing.assert_allclose(ours["occlusion"].scores[0], ablation[0, :, 0].detach(), atol=1e-5)
