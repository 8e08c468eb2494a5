"""The heat map's layer × head views over layer-major attention (T, layers·heads, S)."""

import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from attnscope.engine.attention_layers import encoder_rollout, rollout
from attnscope.gui.heatmap import HEAD_GRID, HEAD_MEAN, LAYER_MEAN, QtAttentionHeatmap

LAYERS, HEADS, T, S = 3, 2, 4, 5


def _layered(seed: int = 0) -> np.ndarray:
    """(T, LAYERS·HEADS, S) rows that each sum to 1, different in every layer and head."""
    weights = np.random.default_rng(seed).random((T, LAYERS * HEADS, S)).astype(np.float32)
    return weights / weights.sum(axis=-1, keepdims=True)


def _mixing() -> np.ndarray:
    """(S, S) an encoder's rollout from random self-attention."""
    attention = np.random.default_rng(1).random((2, HEADS, S, S))
    return encoder_rollout(attention / attention.sum(axis=-1, keepdims=True))


@pytest.fixture
def heatmap(qtbot):
    widget = QtAttentionHeatmap()
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    return widget


def test_layer_and_head_choices_pick_their_rows(heatmap):
    weights = _layered()
    by_layer = weights.reshape(T, LAYERS, HEADS, S)
    heatmap.set_heads(weights, layers=LAYERS)
    assert heatmap.layers() == LAYERS and heatmap.layer_mode() == LAYER_MEAN
    np.testing.assert_allclose(heatmap.matrix(), by_layer.mean(axis=(1, 2)), rtol=1e-6)
    heatmap.set_layer_mode(2)
    np.testing.assert_allclose(heatmap.matrix(), by_layer[:, 2].mean(axis=1), rtol=1e-6)
    heatmap.set_head_mode(1)
    np.testing.assert_array_equal(heatmap.matrix(), weights[:, 2 * HEADS + 1])
    heatmap.set_layer_mode(LAYER_MEAN)  # one head of every layer means nothing: heads' mean
    assert heatmap.head_mode() == HEAD_MEAN
    with pytest.raises(ValueError, match="pick a layer first"):
        heatmap.set_head_mode(0)
    with pytest.raises(ValueError, match="out of range"):
        heatmap.set_layer_mode(LAYERS)


def test_combos_offer_layers_and_heads_and_hide_for_one_layer(heatmap, qtbot):
    heatmap.set_heads(_layered(), layers=LAYERS)
    controls = heatmap._controls
    layer_items = [controls.layer_combo.itemData(i) for i in range(controls.layer_combo.count())]
    assert layer_items == [LAYER_MEAN, 0, 1, 2]
    head_items = [controls.head_combo.itemData(i) for i in range(controls.head_combo.count())]
    assert head_items == [HEAD_MEAN, 0, 1, HEAD_GRID]
    single_head = controls.head_combo.model().item(1)
    assert not single_head.isEnabled()  # the mean of layers: no single head to offer
    controls.layer_combo.setCurrentIndex(controls.layer_combo.findData(1))
    assert heatmap.layer_mode() == 1 and single_head.isEnabled()
    controls.head_combo.setCurrentIndex(controls.head_combo.findData(0))
    np.testing.assert_array_equal(heatmap.matrix(), _layered()[:, HEADS])
    heatmap.show()
    heatmap.activateWindow()
    qtbot.waitActive(heatmap)
    for key, combo in (
        (QtCore.Qt.Key.Key_L, controls.layer_combo),
        (QtCore.Qt.Key.Key_E, controls.head_combo),
    ):
        QTest.keyClick(heatmap.windowHandle(), key, QtCore.Qt.KeyboardModifier.AltModifier)
        assert combo.hasFocus()  # Alt+L, Alt+E: the labels' mnemonics
    assert controls._picker_row.indexOf(controls._choice_box) == 0  # a row of their own
    heatmap.set_heads(_layered()[:, :HEADS])  # a one-layer model: no layer combo
    assert controls.layer_combo.isHidden() and not controls.head_combo.isHidden()
    assert controls._bar.indexOf(controls._choice_box) == 0  # back in the one bar


def test_grid_has_a_row_per_layer_and_a_click_picks_layer_and_head(heatmap, qtbot):
    weights = _layered()
    heatmap.set_heads(weights, layers=LAYERS)
    heatmap.set_head_mode(HEAD_GRID)
    grid = heatmap._grid
    assert grid.shape() == (LAYERS, HEADS)
    assert grid.titles()[:3] == ["L1 H1", "L1 H2", "L2 H1"]
    for row, image in enumerate(grid.images()):
        np.testing.assert_array_equal(image, weights[:, row])
    drawn = grid._images[0].image.copy()  # (T, S, 3) coloured
    heatmap.set_colormap("magma")
    assert not np.array_equal(grid._images[0].image, drawn)
    heatmap.show()
    qtbot.waitExposed(heatmap)
    rect = grid.panel_rect(2 * HEADS + 1)  # layer 3, head 2
    point = grid._view.mapFromScene(rect.center())
    QTest.mouseClick(grid._view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert (heatmap.layer_mode(), heatmap.head_mode()) == (2, 1)
    np.testing.assert_array_equal(heatmap.matrix(), weights[:, 2 * HEADS + 1])


def test_rollout_follows_the_layer_and_is_refused_without_mixing(heatmap):
    weights, mixing = _layered(), _mixing()
    button = heatmap._controls.rollout_button
    heatmap.set_heads(weights, layers=LAYERS)
    assert not button.isEnabled() and "no encoder self-attention" in button.toolTip()
    with pytest.raises(ValueError, match="no rollout"):
        heatmap.set_rollout(True)
    heatmap.set_heads(weights, layers=LAYERS, source_mixing=mixing)
    assert button.isEnabled()
    button.click()
    assert heatmap.rollout_on()
    np.testing.assert_allclose(heatmap.matrix(), rollout(weights, mixing, LAYERS), rtol=1e-6)
    heatmap.set_layer_mode(0)
    expected = rollout(weights, mixing, LAYERS, layer=0)
    np.testing.assert_allclose(heatmap.matrix(), expected, rtol=1e-6)
    np.testing.assert_allclose(heatmap.matrix().sum(axis=1), 1.0, rtol=1e-5)
    heatmap.set_value_kind("scores")  # rollout composes weights, not raw scores
    assert not heatmap.rollout_on() and not button.isChecked()


def test_grid_of_marian_base_keeps_panels_readable_and_scrolls(heatmap):
    layers, heads = 6, 8
    weights = np.full((3, layers * heads, 7), 1 / 7, dtype=np.float32)
    heatmap.set_heads(weights, layers=layers)
    heatmap.set_head_mode(HEAD_GRID)
    heatmap.resize(700, 360)
    heatmap.show()
    grid = heatmap._grid
    assert grid.shape() == (layers, heads)
    widths = [grid.panel_rect(row).width() for row in range(layers * heads)]
    assert min(widths) >= 60  # each of the 48 panels keeps a readable size
    assert grid.scroll.verticalScrollBar().maximum() > 0  # 6 rows in 360 px: the grid scrolls


def test_the_picture_overlay_offers_the_same_layer_and_head_choice(qtbot):
    from attnscope.engine.inference_results import SessionSnapshot, TokenStep
    from attnscope.gui.caption_view import CaptionWorkspace

    grid = (2, 3)
    attention = np.random.default_rng(2).random((2, LAYERS * HEADS, 6)).astype(np.float32)
    attention /= attention.sum(axis=-1, keepdims=True)  # (T, layers·heads, h·w)
    ids = np.arange(3)
    steps = tuple(
        TokenStep(4 + i, f"▁w{i}", -0.5, ids, np.full(3, 1 / 3), ("a", "b", "c"), False)
        for i in range(2)
    )
    snapshot = SessionSnapshot(
        source_text="fake.png",
        source_pieces=(),
        target_pieces=("▁w0", "▁w1"),
        target_text="w0 w1",
        steps=steps,
        attention=attention,
        num_heads=LAYERS * HEADS,
        done=True,
        strategy="greedy",
        grid=grid,
        image=np.zeros((20, 30, 3), dtype=np.uint8),
        num_layers=LAYERS,
    )
    view = CaptionWorkspace(example_paths=[])
    qtbot.addWidget(view)
    view.show_snapshot(snapshot, 1)
    by_layer = attention.reshape(2, LAYERS, HEADS, *grid)
    np.testing.assert_allclose(view.shown_grid(), by_layer[1].mean(axis=(0, 1)), rtol=1e-5)
    picker = view.heads
    assert not picker.layer_combo.isHidden() and picker.layer_combo.count() == LAYERS + 1
    picker.layer_combo.setCurrentIndex(picker.layer_combo.findData(2))
    view.set_head(1)
    np.testing.assert_allclose(view.shown_grid(), by_layer[1, 2, 1], rtol=1e-6)
