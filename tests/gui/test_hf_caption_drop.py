"""A Hugging Face captioner folder in the window: it opens through the app's own loader and
a dropped picture is captioned with the attention over the encoder's patch grid."""

import numpy as np
import pytest
from caption_window_support import drop_and_wait, load_captioner, run_to_end

from tests.engine.hf.tiny_captioners import pictures, save_vision_encoder_decoder


@pytest.fixture(scope="module")
def vit_gpt2(tmp_path_factory):
    return save_vision_encoder_decoder(tmp_path_factory.mktemp("hf") / "vit-gpt2", seed=1)


def test_a_dropped_picture_shows_the_patch_grid_over_the_photo(qtbot, window, vit_gpt2, tmp_path):
    load_captioner(qtbot, window, vit_gpt2)
    summary = window.state.summary
    assert (summary.task, summary.layers, summary.heads) == ("captioning", 2, 4)
    photo = tmp_path / "colours.png"
    pictures(1)[0].save(photo)  # 48 × 40
    drop_and_wait(qtbot, window, photo)
    snapshot = run_to_end(qtbot, window)
    assert snapshot.grid == (4, 4)  # 32-pixel input, 8-pixel patches; [CLS] left out
    assert snapshot.image.shape == (40, 48, 3)  # the whole photo: ViT's processor resizes it
    assert snapshot.attention.shape == (len(snapshot.steps), 4, 16)
    assert (snapshot.attention.sum(axis=-1) < 1.0).all()  # the [CLS] share is not spread
    view = window.caption_view
    view.select_step(0)
    # the word's label names the weight the grid leaves out (mean of the heads shown)
    share = 1.0 - snapshot.attention[0].mean(axis=0).sum()
    assert view.word_label.text().endswith(f"“{view._words[0]}” · {share:.0%} on [CLS]")
    assert "left out of the map" in view.word_label.toolTip()
    drawn = view.overlay.overlay_array()
    assert drawn is not None and drawn.ndim == 2 and np.isfinite(drawn).all()
