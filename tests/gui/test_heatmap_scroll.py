"""The heat map scrolls rather than drop labels: up to 50 columns (rows) each keep a
readable label; longer axes are fitted whole and thinned; scroll bars follow the view."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from attnscope.gui.heatmap import QtAttentionHeatmap
from attnscope.gui.heatmap_scroll import LABEL_EVERY_UP_TO, visible_span
from attnscope.gui.token_axis import MIN_FONT_SCALE


@pytest.fixture
def heatmap(qtbot):
    view = QtAttentionHeatmap()
    qtbot.addWidget(view)
    view.resize(420, 320)
    view.show()
    qtbot.waitExposed(view)
    return view


def _uniform(rows: int, columns: int) -> np.ndarray:
    return np.full((rows, 1, columns), 1.0 / columns, dtype=np.float32)  # (T, heads, S)


def _show(view: QtAttentionHeatmap, rows: int, columns: int) -> None:
    view.set_tokens([f"s{j}" for j in range(columns)], [f"t{i}" for i in range(rows)])
    view.set_heads(_uniform(rows, columns))
    view.grab()  # lays out and paints the axes


def _axes(view: QtAttentionHeatmap):
    plot_item = view.plot_widget().getPlotItem()
    return plot_item.getAxis("top"), plot_item.getAxis("left")


def test_the_span_shrinks_to_labelled_cells_only_up_to_the_limit():
    # 40 cells of at least 10 px do not fit 300 px: 30 cells are shown
    assert visible_span(0.0, 40.0, cells=40, pixels=300.0, min_cell=10.0) == 30.0
    # they fit: all of them
    assert visible_span(0.0, 40.0, cells=40, pixels=500.0, min_cell=10.0) == 40.0
    # beyond the limit the axis is fitted whole (and its labels thinned)
    many = LABEL_EVERY_UP_TO + 1
    assert visible_span(0.0, many, cells=many, pixels=300.0, min_cell=10.0) == many
    # rows: the coverage band (-2..0) is part of the view range
    assert visible_span(-2.0, 40.0, cells=40, pixels=300.0, min_cell=10.0) == 30.0


def test_40_columns_in_a_small_view_scroll_with_every_label_readable(heatmap):
    _show(heatmap, 3, 40)
    top, _left = _axes(heatmap)
    columns, rows = heatmap.scroll_bars()
    assert columns.isVisible() and not rows.isVisible()
    layout = top.label_layout()
    assert layout.stride == 1 and layout.scale >= MIN_FONT_SCALE
    assert top.shown_indices()[0] == 0 and top.shown_indices()[-1] < 39
    columns.setValue(columns.maximum())
    heatmap.grab()
    assert top.shown_indices()[-1] == 39
    assert top.label_layout().stride == 1


def test_more_than_the_limit_fits_whole_and_thins(heatmap):
    cells = LABEL_EVERY_UP_TO + 10
    _show(heatmap, 3, cells)
    top, _left = _axes(heatmap)
    columns, _rows = heatmap.scroll_bars()
    assert not columns.isVisible()
    assert top.label_layout().stride > 1
    assert heatmap.plot_widget().getPlotItem().getViewBox().viewRange()[0] == pytest.approx(
        [0.0, cells]
    )


def test_live_rows_keep_the_newest_in_view_and_a_selected_row_scrolls_back(heatmap):
    columns = 6
    heatmap.set_tokens([f"s{j}" for j in range(columns)], [])
    for step in range(40):
        heatmap.append_row(np.full(columns, 1.0 / columns, dtype=np.float32), f"t{step}")
    heatmap.grab()
    _top, left = _axes(heatmap)
    _columns, rows = heatmap.scroll_bars()
    assert rows.isVisible()
    assert left.shown_indices()[-1] == 39  # the newest row
    assert left.label_layout().stride == 1
    heatmap.select_row(0)
    heatmap.grab()
    assert left.shown_indices()[0] == 0
    assert rows.value() == 0  # the bar shows the top too
    heatmap.select_row(25)  # a jump: the row comes into view with rows on both sides
    heatmap.grab()
    shown = left.shown_indices()
    assert shown[0] < 24 and shown[-1] > 26


def test_a_pan_with_the_mouse_moves_the_bar_and_cells_map_through_the_scroll(heatmap):
    _show(heatmap, 3, 40)
    columns, _rows = heatmap.scroll_bars()
    viewbox = heatmap.plot_widget().getPlotItem().getViewBox()
    low, high = viewbox.viewRange()[0]
    viewbox.setXRange(10.0, 10.0 + (high - low), padding=0.0)  # what a drag does
    assert columns.value() == 10 * 100  # a hundredth of a cell per unit
    heatmap.grab()
    assert heatmap.cell_at(heatmap.scene_pos_of_cell(1, 12)) == (1, 12)
    assert heatmap.describe_cell(1, 12).startswith("s12 → t1")


def test_a_long_decode_then_a_short_one_scrolls_again(heatmap):
    """New limits clamp the view range: that is not a pan to follow (the span stays the
    labelled one), so 40 rows after 65 scroll with every label."""
    _show(heatmap, LABEL_EVERY_UP_TO + 15, 6)
    _columns, rows = heatmap.scroll_bars()
    assert not rows.isVisible()
    _show(heatmap, 40, 6)
    _top, left = _axes(heatmap)
    assert rows.isVisible()
    assert left.label_layout().stride == 1
