"""A new decode row redraws only what it changed: the colour bar's axis and the source
axis keep their pictures (pyqtgraph regenerates an axis's labels when its picture goes)."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

from attnscope.gui.heatmap import QtAttentionHeatmap


def test_a_new_row_keeps_the_colour_bar_and_source_axis_pictures(qtbot):
    view = QtAttentionHeatmap()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    rows = np.full((3, 4), 0.25, dtype=np.float32)
    view.set_tokens(["a", "b", "c", "d"], ["x", "y", "z"])
    view.set_matrix(rows[:2])
    view.grab()  # paints: every axis draws its picture
    plot = view._parts
    assert plot.bar.axis.picture is not None and plot.x_axis.picture is not None
    view.append_row(rows[2], "z")
    assert plot.bar.axis.picture is not None  # same levels (0, 1): the bar is not redrawn
    assert plot.x_axis.picture is not None  # the source axis did not change
    view.grab()
    assert view.matrix().shape == (3, 4)
