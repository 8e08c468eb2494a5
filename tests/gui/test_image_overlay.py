"""Image attention overlay and per-word strip: upsampling, clicks to cells, thumbnails."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from attnscope.gui.attention_render import (
    blend_attention,
    normalize_attention,
    render_strip,
    upsample_attention,
)
from attnscope.gui.attention_strip import QtAttentionStrip
from attnscope.gui.image_overlay import QtImageAttentionOverlay

GRID = np.array([[0.0, 0.1], [0.2, 0.7]], dtype=np.float32)  # (h=2, w=2), sums to 1


def _image(height: int = 60, width: int = 90) -> np.ndarray:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    rgb[..., 1] = 128
    return rgb


@pytest.fixture
def overlay(qtbot):
    view = QtImageAttentionOverlay()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_blocky_upsampling_repeats_each_cell():
    out = upsample_attention(GRID, 4, 6, "blocky")
    assert out.shape == (4, 6)
    np.testing.assert_array_equal(out, np.kron(GRID, np.ones((2, 3), dtype=np.float32)))


def test_smooth_upsampling_interpolates_between_cells():
    out = upsample_attention(GRID, 4, 4, "smooth")
    assert out.shape == (4, 4)
    assert out[0, 0] == pytest.approx(0.0)  # corners keep their cell's value
    assert out[3, 3] == pytest.approx(0.7)
    assert 0.0 < out[1, 1] < 0.7  # inner pixels mix neighbours
    assert len(np.unique(out)) > len(np.unique(GRID))
    assert out.max() <= GRID.max() + 1e-6


def test_unknown_upsampling_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="smooth, blocky"):
        upsample_attention(GRID, 4, 4, "cubic")


def test_normalize_scales_peak_to_one_and_keeps_zeros():
    np.testing.assert_allclose(normalize_attention(GRID).max(), 1.0)
    np.testing.assert_array_equal(normalize_attention(np.zeros((2, 2))), np.zeros((2, 2)))


def test_blend_is_the_image_at_zero_opacity_and_differs_where_attended():
    rgb = _image()
    np.testing.assert_array_equal(blend_attention(rgb, GRID, opacity=0.0), rgb)
    blended = blend_attention(rgb, GRID, opacity=0.8)
    assert blended.shape == rgb.shape and blended.dtype == np.uint8
    assert not np.array_equal(blended[-1, -1], blended[0, 0])


def test_overlay_mode_switch_changes_what_is_drawn(overlay):
    overlay.set_image(_image())
    overlay.set_attention(GRID)
    smooth = overlay.overlay_array()
    overlay.set_mode("blocky")
    blocky = overlay.overlay_array()
    assert smooth.shape == blocky.shape == (60, 90)
    assert not np.array_equal(smooth, blocky)
    np.testing.assert_array_equal(np.unique(blocky), np.unique(normalize_attention(GRID)))
    assert overlay._mode_combo.currentText() == "blocky"


def test_overlay_hidden_without_attention(overlay):
    overlay.set_image(_image())
    overlay.set_attention(None)
    assert overlay.overlay_array() is None
    np.testing.assert_array_equal(overlay.render(), _image())


def test_opacity_slider_and_setter_agree(overlay):
    overlay.set_opacity(0.25)
    assert overlay._opacity_slider.value() == 25
    overlay._opacity_slider.setValue(80)
    assert overlay.opacity() == pytest.approx(0.8)
    assert overlay._overlay_item.opacity() == pytest.approx(0.8)


def test_click_reports_the_grid_cell(overlay, qtbot):
    grid = np.full((3, 4), 1 / 12, dtype=np.float32)  # h=3 rows, w=4 columns
    overlay.set_image(_image(60, 80))
    overlay.set_attention(grid)
    overlay.graphics_view().grab()  # apply the pending auto-range
    for gx, gy in [(0, 0), (3, 2), (1, 2)]:
        assert overlay.cell_at(overlay.scene_pos_of_cell(gx, gy)) == (gx, gy)
    view = overlay.graphics_view()
    point = view.mapFromScene(overlay.scene_pos_of_cell(2, 1))
    with qtbot.waitSignal(overlay.regionClicked) as blocker:
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [2, 1]
    assert overlay._cell_box.isVisible()


def test_render_is_full_resolution(overlay):
    overlay.set_image(_image(60, 90))
    overlay.set_attention(GRID)
    rendered = overlay.render()
    assert rendered.shape == (60, 90, 3)
    np.testing.assert_array_equal(rendered, blend_attention(_image(60, 90), GRID))


def test_bad_image_is_rejected(overlay):
    with pytest.raises(ValueError, match="uint8"):
        overlay.set_image(np.zeros((10, 10, 3), dtype=np.float32))


@pytest.fixture
def strip(qtbot):
    view = QtAttentionStrip(thumb_size=48)
    qtbot.addWidget(view)
    view.resize(500, 140)
    view.show()
    qtbot.waitExposed(view)
    return view


def _grids(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.random((7, 7)).astype(np.float32) for _ in range(count)]


def test_strip_has_one_thumbnail_per_word(strip):
    strip.set_image(_image())
    strip.set_words(["a", "red", "ramp"], _grids(3))
    assert strip.thumbnail_count() == 3
    pictures = strip.thumbnails()
    assert all(p.shape == (32, 48, 3) for p in pictures)  # longest side = thumb_size
    assert not np.array_equal(pictures[0], pictures[1])
    strip.set_words(["one"], _grids(1))
    assert strip.thumbnail_count() == 1


def test_strip_signals_hover_and_click(strip, qtbot):
    strip.set_words(["a", "b", "c"], _grids(3))
    target = strip.thumbnail_widget(2)
    with qtbot.waitSignal(strip.wordClicked) as blocker:
        QTest.mouseClick(target, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args == [2]
    with qtbot.waitSignal(strip.wordHovered) as blocker:
        QtCore.QCoreApplication.sendEvent(target, QtCore.QEvent(QtCore.QEvent.Type.Enter))
    assert blocker.args == [2]


def test_strip_rejects_mismatched_lengths(strip):
    with pytest.raises(ValueError, match="2 words but 1"):
        strip.set_words(["a", "b"], _grids(1))


def test_render_strip_lays_thumbnails_side_by_side():
    words, grids = ["a", "cat", "sits"], _grids(3)
    out = render_strip(words, grids, _image(), thumb_size=40)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    gap = 6
    assert out.shape[1] == 3 * (40 + gap) + gap
    alone = render_strip(words[:1], grids[:1], _image(), thumb_size=40)
    assert alone.shape[1] == 40 + 2 * gap
    # the word is printed under its thumbnail: dark pixels in the label band
    label_band = out[-22:, gap : gap + 40]
    assert (label_band < 100).any()
