"""Every bundled demo checkpoint opens, describes itself and decodes an example.

Runs over whatever ``resources/checkpoints/*.safetensors`` holds, so a demo
model added later is checked the same way: metadata through
``read_checkpoint_info`` (no model built), then a real greedy decode on CPU —
the checkpoint's own ``info["examples"]`` for translation, the bundled
example photos for captioning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attnscope.engine.checkpoint import FORMAT_VERSION, read_checkpoint_info
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import checkpoints, example_images
from attnscope.models.config import TASKS, ModelConfig

BUNDLED = checkpoints()
GREEDY = DecodeConfig(max_length=40, max_length_ratio=0.0, topk_alternatives=3)


def test_some_demo_checkpoint_is_bundled():
    assert BUNDLED, "resources/checkpoints/ holds no .safetensors demo model"


@pytest.fixture(scope="module", params=BUNDLED, ids=lambda path: path.name)
def bundled(request):
    path: Path = request.param
    return path, read_checkpoint_info(path), load_inference_model(path, device="cpu")


def test_metadata_describes_the_model(bundled):
    path, info, model = bundled
    assert info["format_version"] == FORMAT_VERSION
    assert info["container"] == "safetensors"
    assert info["file_size"] == path.stat().st_size
    assert info["task"] in TASKS
    config = ModelConfig.from_dict(info["model_config"])
    assert config == model.config
    assert info["tgt_vocab"] == config.tgt_vocab == model.tgt_tokenizer.vocab_size
    assert info["num_parameters"] == sum(p.numel() for p in model.model.parameters())
    assert info["special_tokens"] == {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    assert isinstance(info["training_info"], dict)
    if config.task == "translation":
        assert info["src_vocab"] == config.src_vocab
        assert info["image_preprocess"] is None
    else:
        assert info["src_vocab"] is None
        assert info["image_preprocess"]["size"] == list(config.image_encoder.image_size)


def _check_attention(attention: np.ndarray, steps: int, heads: int) -> None:
    """attention (T, heads, ...): one row per generated token, each a distribution."""
    assert attention.shape[:2] == (steps, heads)
    totals = attention.reshape(steps, heads, -1).sum(axis=-1)
    np.testing.assert_allclose(totals, 1.0, atol=1e-4)
    assert np.all(attention >= 0)


def test_translation_demo_translates_its_own_examples(bundled):
    path, info, model = bundled
    if info["task"] != "translation":
        pytest.skip("captioning checkpoint")
    examples = info["training_info"].get("examples")
    assert examples, f"{path.name}: a bundled translation demo needs info['examples']"
    assert all(isinstance(text, str) and text.strip() for text in examples)
    (result,) = model.translate([examples[0]], GREEDY)
    assert result.text.strip()
    if info["heads"]:
        _check_attention(result.attention, len(result.pieces), info["heads"])
        assert result.attention.shape[2] == len(result.source_pieces)


def test_captioning_demo_captions_the_example_photos(bundled):
    _, info, model = bundled
    if info["task"] != "captioning":
        pytest.skip("translation checkpoint")
    grid = tuple(model.config.image_encoder.grid or ())
    photos = example_images()
    assert photos, "resources/examples/ holds no example photo"
    for photo in photos:
        caption = model.caption(str(photo), GREEDY)
        assert caption.text.strip(), f"empty caption for {photo.name}"
        if grid:
            assert caption.grid == grid
        if info["heads"]:
            _check_attention(caption.attention, len(caption.pieces), info["heads"])
            assert caption.attention.shape[2:] == caption.grid
