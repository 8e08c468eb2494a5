"""Attribution of a captioner's steps: per pixel, pooled to the encoder's grid cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import decoded_tokens

from attnscope.engine.explain import explain
from attnscope.engine.explain.attribution import _cell_index
from attnscope.engine.explain.target import TargetFunction
from attnscope.engine.images import to_tensor


def test_pixels_and_cells_for_every_method(tiny_captioner, picture):
    tokens = decoded_tokens(tiny_captioner, picture)
    cells_of = _cell_index((24, 24), (3, 3))  # 8x8 pixel blocks
    for method in ("saliency", "input_x_gradient", "ig", "occlusion"):
        result = explain(tiny_captioner, picture, tokens, method=method, ig_steps=8)
        assert result.grid == (3, 3)
        assert result.scores.shape == (len(tokens), 9)
        assert result.pixels.shape == (len(tokens), 24, 24)
        for cell in range(9):
            block = result.pixels[:, cells_of == cell]  # (T, 64)
            if method == "occlusion":  # each pixel shows its cell's drop
                np.testing.assert_allclose(block, result.scores[:, [cell]].repeat(64, 1))
            elif method == "saliency":  # the norm over the cell's pixels
                norm = np.sqrt((block.astype(np.float64) ** 2).sum(1))
                np.testing.assert_allclose(result.scores[:, cell], norm, rtol=1e-5)
            else:
                np.testing.assert_allclose(result.scores[:, cell], block.sum(1), atol=1e-5)


@pytest.mark.parametrize("baseline", ["black", "mean"])
def test_integrated_gradients_are_complete_on_pixels(tiny_captioner, picture, baseline):
    tokens = decoded_tokens(tiny_captioner, picture)
    result = explain(tiny_captioner, picture, tokens, method="ig", ig_steps=256, baseline=baseline)
    change = result.target_values - result.baseline_values
    assert np.abs(change).max() > 0.01
    np.testing.assert_allclose(result.scores.sum(1), change, rtol=0.01, atol=2e-4)


def test_occlusion_is_the_drop_when_a_cell_is_painted_black(tiny_captioner, picture):
    tokens = decoded_tokens(tiny_captioner, picture)
    result = explain(tiny_captioner, picture, tokens, method="occlusion", baseline="black")
    preprocess = tiny_captioner.checkpoint.image_preprocess
    inputs = to_tensor(tiny_captioner._picture(picture), preprocess).unsqueeze(0)
    black = torch.tensor(
        [(0 - m) / s for m, s in zip(preprocess.mean, preprocess.std, strict=True)]
    )
    target = TargetFunction(tiny_captioner.model, source=None, tokens=tokens)
    with torch.no_grad():
        original = target.values(inputs)[0]
        painted = inputs.clone()
        painted[0, :, 8:16, 16:24] = black.view(3, 1, 1)  # cell (1, 2) = 5
        drop = original - target.values(painted)[0]
    np.testing.assert_allclose(result.scores[:, 5], drop.numpy(), atol=1e-5)
