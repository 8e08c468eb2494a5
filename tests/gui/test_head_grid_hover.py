"""The layer × head grid reads out the cell under the mouse, as the main heat map does."""

import numpy as np
import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from attnscope.gui.heatmap import HEAD_GRID, QtAttentionHeatmap

LAYERS, HEADS, SOURCE, TARGET = 2, 3, ["der", "Hund", "</s>"], ["the", "dog"]


@pytest.fixture
def heatmap(qtbot):
    widget = QtAttentionHeatmap(hover_rate=1000.0)
    qtbot.addWidget(widget)
    widget.resize(700, 500)
    weights = np.random.default_rng(0).random((2, LAYERS * HEADS, 3)).astype(np.float32)
    widget.set_tokens(SOURCE, TARGET)
    widget.set_heads(weights / weights.sum(axis=-1, keepdims=True), layers=LAYERS)
    widget.set_head_mode(HEAD_GRID)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _cell_point(grid, head: int, row: int, col: int) -> QtCore.QPointF:
    """The scene point in the middle of cell (row, col) of panel ``head``."""
    rect = grid.panel_rect(head)
    rows, columns = len(TARGET), len(SOURCE)
    x = rect.left() + (col + 0.5) * rect.width() / columns
    y = rect.top() + (row + 0.5) * rect.height() / rows
    return QtCore.QPointF(x, y)


def test_every_cell_of_every_panel_is_found_and_described(heatmap):
    grid, weights = heatmap._grid, heatmap.heads()
    for head in range(LAYERS * HEADS):
        for row in range(len(TARGET)):
            for col in range(len(SOURCE)):
                assert grid.cell_at(_cell_point(grid, head, row, col)) == (head, row, col)
    layer, head = divmod(4, HEADS)  # L2 H2
    text = grid.describe_cell(4, 1, 0)
    assert text == f"L2 H2 · der → dog: {weights[1, layer * HEADS + head, 0]:.2f}"
    title_band = grid.panel_rect(0).topLeft() - QtCore.QPointF(-1, 3)
    assert grid.head_at(title_band) == 0 and grid.cell_at(title_band) is None


def test_hovering_a_cell_shows_it_in_the_value_label_and_the_panel_tooltip(heatmap, qtbot):
    grid = heatmap._grid
    point = grid._view.mapFromScene(_cell_point(grid, 5, 0, 2))  # L2 H3, the → </s>
    QTest.mouseMove(grid._view.viewport(), point)
    expected = grid.describe_cell(5, 0, 2)
    assert expected.startswith("L2 H3 · </s> → the: ")
    qtbot.waitUntil(lambda: heatmap._status.text() == expected, timeout=2000)
    assert grid._images[5].toolTip().startswith(expected)
