"""QtAttentionHeatmap: shows the data it is given, grows live, maps the mouse to cells."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui
from PySide6.QtTest import QTest

from attnscope.gui.heatmap import HEAD_GRID, HEAD_MEAN, QtAttentionHeatmap

SOURCE = ["▁the", "▁cat", "▁sat", "</s>"]
TARGET = ["▁le", "▁chat", "▁assis"]


def _rows(t: int, s: int, heads: int | None = None, seed: int = 0) -> np.ndarray:
    """Random attention that sums to 1 over the source axis: (T, S) or (T, heads, S)."""
    shape = (t, s) if heads is None else (t, heads, s)
    weights = np.random.default_rng(seed).random(shape).astype(np.float32)
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.fixture
def heatmap(qtbot):
    view = QtAttentionHeatmap()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def _settle(view: QtAttentionHeatmap) -> None:
    """Paint once so pyqtgraph applies its pending auto-range (cell <-> scene mapping)."""
    view.grab()


def _image_item(view: QtAttentionHeatmap) -> pg.ImageItem:
    items = view.plot_widget().getPlotItem().items
    return next(item for item in items if isinstance(item, pg.ImageItem))


def test_set_matrix_shows_the_given_weights_and_tokens(heatmap):
    weights = _rows(3, 4)
    heatmap.set_tokens(SOURCE, TARGET)
    heatmap.set_matrix(weights)
    np.testing.assert_array_equal(heatmap.matrix(), weights)
    np.testing.assert_array_equal(_image_item(heatmap).image, weights)
    assert _image_item(heatmap).getLevels() == pytest.approx((0.0, 1.0))
    assert heatmap.source_tokens() == SOURCE
    assert heatmap.target_tokens() == TARGET


def test_set_matrix_rejects_wrong_rank(heatmap):
    with pytest.raises(ValueError, match="shape"):
        heatmap.set_matrix(np.zeros((2, 3, 4, 5)))


def test_append_row_grows_rows_and_tick_labels(heatmap):
    weights = _rows(5, 4)
    heatmap.set_tokens(SOURCE, [])
    for step in range(5):
        heatmap.append_row(weights[step], f"tok{step}")
        assert heatmap.matrix().shape == (step + 1, 4)
    np.testing.assert_array_equal(heatmap.matrix(), weights)
    assert heatmap.target_tokens() == [f"tok{i}" for i in range(5)]
    left_axis = heatmap.plot_widget().getPlotItem().getAxis("left")
    assert left_axis.labels() == [f"tok{i}" for i in range(5)]


def test_append_row_beyond_initial_capacity_keeps_every_row(heatmap):
    weights = _rows(70, 3)
    heatmap.set_matrix(weights[:1])
    for step in range(1, 70):
        heatmap.append_row(weights[step], str(step))
    np.testing.assert_array_equal(heatmap.matrix(), weights)


def test_append_row_with_wrong_length_raises(heatmap):
    heatmap.set_matrix(_rows(2, 4))
    with pytest.raises(ValueError, match="expected"):
        heatmap.append_row(np.zeros(5), "x")


def test_head_modes_show_one_head_the_mean_or_all(heatmap):
    weights = _rows(3, 4, heads=3)
    heatmap.set_tokens(SOURCE, TARGET)
    heatmap.set_heads(weights)
    np.testing.assert_allclose(heatmap.matrix(), weights.mean(axis=1), rtol=1e-6)
    heatmap.set_head_mode(2)
    np.testing.assert_array_equal(heatmap.matrix(), weights[:, 2, :])
    heatmap.set_head_mode(HEAD_GRID)
    grid_images = heatmap._grid.images()
    assert len(grid_images) == 3
    for head, image in enumerate(grid_images):
        np.testing.assert_array_equal(image, weights[:, head, :])
    heatmap.set_head_mode(HEAD_MEAN)
    np.testing.assert_allclose(heatmap.matrix(), weights.mean(axis=1), rtol=1e-6)


def test_head_combo_drives_the_mode(heatmap):
    weights = _rows(2, 4, heads=2)
    heatmap.set_heads(weights)
    combo = heatmap._head_combo
    assert [combo.itemData(i) for i in range(combo.count())] == [HEAD_MEAN, 0, 1, HEAD_GRID]
    combo.setCurrentIndex(combo.findData(1))
    assert heatmap.head_mode() == 1
    np.testing.assert_array_equal(heatmap.matrix(), weights[:, 1, :])


def test_clicking_a_head_in_the_grid_shows_that_head(heatmap, qtbot):
    weights = _rows(2, 4, heads=4)
    heatmap.set_heads(weights)
    heatmap.set_head_mode(HEAD_GRID)
    grid = heatmap._grid
    view = grid._view
    point = view.mapFromScene(grid.panel_rect(3).center())
    with qtbot.waitSignal(grid.headClicked) as blocker:
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [3]
    assert heatmap.head_mode() == 3


def test_bad_head_mode_raises(heatmap):
    heatmap.set_heads(_rows(2, 4, heads=2))
    with pytest.raises(ValueError, match="out of range"):
        heatmap.set_head_mode(5)
    with pytest.raises(ValueError, match="unknown head mode"):
        heatmap.set_head_mode("median")


def test_cell_mapping_round_trips(heatmap):
    heatmap.set_matrix(_rows(3, 4))
    _settle(heatmap)
    for row in range(3):
        for col in range(4):
            assert heatmap.cell_at(heatmap.scene_pos_of_cell(row, col)) == (row, col)
    assert heatmap.cell_at(QtCore.QPointF(-50, -50)) is None


def test_hover_emits_the_cell_and_shows_its_description(heatmap, qtbot):
    weights = _rows(3, 4)
    heatmap.set_tokens(SOURCE, TARGET)
    heatmap.set_matrix(weights)
    _settle(heatmap)
    scene = heatmap.plot_widget().scene()
    with qtbot.waitSignal(heatmap.cellHovered) as blocker:
        scene.sigMouseMoved.emit(heatmap.scene_pos_of_cell(1, 2))
    row, col, weight = blocker.args
    assert (row, col) == (1, 2)
    assert weight == pytest.approx(float(weights[1, 2]))
    assert heatmap._status.text() == f"▁sat → ▁chat: {weights[1, 2]:.2f}"


def test_mouse_click_emits_cell_and_row(heatmap, qtbot):
    heatmap.set_matrix(_rows(3, 4))
    _settle(heatmap)
    plot = heatmap.plot_widget()
    point = plot.mapFromScene(heatmap.scene_pos_of_cell(2, 1))
    rows = []
    heatmap.rowSelected.connect(rows.append)
    with qtbot.waitSignal(heatmap.cellClicked) as blocker:
        QTest.mouseClick(plot.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [2, 1]
    assert rows == [2]
    assert heatmap._row_box.isVisible() and heatmap._col_box.isVisible()


def test_arrow_keys_move_the_selected_row(heatmap, qtbot):
    heatmap.set_matrix(_rows(3, 4))
    heatmap.highlight(row=0)
    with qtbot.waitSignal(heatmap.rowSelected) as blocker:
        QTest.keyClick(heatmap, QtCore.Qt.Key.Key_Down)
    assert blocker.args == [1]
    assert heatmap.selected_row() == 1


def test_select_row_highlights_without_emitting(heatmap, qtbot):
    heatmap.set_matrix(_rows(3, 4))
    with qtbot.assertNotEmitted(heatmap.rowSelected):
        heatmap.select_row(7)
    assert heatmap.selected_row() == 2  # clamped to the last row
    assert heatmap._row_box.isVisible()


def test_highlight_outlines_row_and_column(heatmap):
    heatmap.set_matrix(_rows(3, 4))
    heatmap.highlight(row=1, col=3)
    assert heatmap._row_box.rect() == QtCore.QRectF(0, 1, 4, 1)
    assert heatmap._col_box.rect() == QtCore.QRectF(3, 0, 1, 3)
    heatmap.highlight()
    assert not heatmap._row_box.isVisible() and not heatmap._col_box.isVisible()


def test_colormap_switch_and_unknown_name(heatmap):
    heatmap.set_colormap("magma")
    assert heatmap.colormap_name() == "magma"
    assert heatmap._cmap_combo.currentText() == "magma"
    with pytest.raises(ValueError, match="viridis"):
        heatmap.set_colormap("jet")


def test_200_by_200_matrix_with_thinned_labels(heatmap, qtbot):
    weights = _rows(200, 200)
    heatmap.set_tokens([f"src{i}" for i in range(200)], [f"tgt{i}" for i in range(200)])
    heatmap.set_matrix(weights)
    heatmap.resize(800, 700)
    heatmap.grab()  # forces layout + paint
    np.testing.assert_array_equal(heatmap.matrix(), weights)
    top = heatmap.plot_widget().getPlotItem().getAxis("top")
    length = top.geometry().width()
    levels = top.tickValues(0.0, 200.0, length)
    stride, positions = levels[0]
    assert 1 < len(positions) < 200
    layout = top.label_layout()
    assert layout.vertical  # too many to lie down: upright, small, thinned
    # neighbouring upright labels never overlap
    assert stride * length / 200.0 >= layout.scale * top._line_height()


def test_left_axis_is_wide_enough_for_every_target_label_at_once(heatmap):
    heatmap.set_tokens(SOURCE, ["▁le", "▁aujourd'hui", "</s>"])
    heatmap.set_matrix(_rows(3, 4))
    left = heatmap.plot_widget().getPlotItem().getAxis("left")
    metrics = QtGui.QFontMetricsF(left.style["tickFont"])
    widest = max(metrics.horizontalAdvance(label) for label in left.labels())
    assert left.geometry().width() >= widest  # no paint/event loop needed first
