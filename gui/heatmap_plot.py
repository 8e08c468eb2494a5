"""The heat map's plot: the matrix image, its colour bar, token axes, outlines and scroll bars.

``HeatmapPlot`` builds the pyqtgraph items once and maps between cells and the
scene; ``QtAttentionHeatmap`` (``attnscope.gui.heatmap``) decides what they show.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from attnscope.gui.heatmap_items import (
    CoverageBar,
    RowMark,
    TrueColourImageItem,
    band_rows,
    outline_box,
)
from attnscope.gui.heatmap_scroll import AxisScroll
from attnscope.gui.style import HIGHLIGHT_COLOUR, colormap
from attnscope.gui.token_axis import TokenAxis

pg.setConfigOptions(imageAxisOrder="row-major")


class HeatmapPlot:
    """Target steps down (row i), source tokens across (column j), one cell per weight.

    ``widget`` is the plot with its scroll bars; the items are public for the heat map
    that owns them: ``image``, ``bar`` (colour bar), ``x_axis``/``y_axis`` (token
    labels), ``row_box``/``col_box`` (the selection), ``coverage``, ``mark``.
    """

    def __init__(self, cmap_name: str) -> None:
        self.x_axis = TokenAxis("top")
        self.y_axis = TokenAxis("left")
        self.plot = pg.PlotWidget(axisItems={"top": self.x_axis, "left": self.y_axis})
        plot_item = self.plot.getPlotItem()
        plot_item.showAxis("top")
        plot_item.hideAxis("bottom")
        plot_item.hideButtons()
        self.viewbox = plot_item.getViewBox()
        self.viewbox.invertY(True)
        self.viewbox.setDefaultPadding(0.0)
        self.viewbox.setMenuEnabled(False)  # right click edits attention (cellMenuRequested)
        self.image = TrueColourImageItem(axisOrder="row-major")
        plot_item.addItem(self.image)
        self.bar = pg.ColorBarItem(
            values=(0, 1),
            colorMap=colormap(cmap_name),
            interactive=False,
            width=14,
            colorMapMenu=False,
        )
        # on the bar's value axis: pyqtgraph puts a constructor label on the other axis,
        # where it stayed "weight" beside the value axis's "score" (Raw scores)
        self.bar.axis.setLabel("weight")
        self.bar.setImageItem(self.image, insert_in=plot_item)
        self.row_box = outline_box(plot_item, HIGHLIGHT_COLOUR)
        self.col_box = outline_box(plot_item, HIGHLIGHT_COLOUR)
        self.coverage = CoverageBar(plot_item)
        self.mark = RowMark(plot_item)
        self.x_scroll = AxisScroll(self.viewbox, "x", self.x_axis.min_cell_pixels)
        self.y_scroll = AxisScroll(self.viewbox, "y", self.y_axis.min_cell_pixels)
        self.plot.setToolTip("Attention: rows are target steps, columns are source tokens")
        self.widget = QtWidgets.QWidget()
        grid = QtWidgets.QGridLayout(self.widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(0)
        grid.addWidget(self.plot, 0, 0)
        grid.addWidget(self.y_scroll.bar, 0, 1)
        grid.addWidget(self.x_scroll.bar, 1, 0)

    def set_labels(self, source: list[str], target: list[str]) -> None:
        """Label the columns with ``source`` and the rows with ``target``, and fit the view
        so each keeps its label (the coverage bars' band above row 0)."""
        resized = self.x_axis.set_labels(source)
        resized = self.y_axis.set_labels(target) or resized
        if resized:  # apply a new axis width now, not next loop (a row's label: seldom)
            self.plot.getPlotItem().layout.activate()
        self.x_scroll.set_extent(0.0, max(len(source), 1), len(source))
        self.y_scroll.set_extent(-band_rows(len(target)), max(len(target), 1), len(target))

    def show_matrix(self, shown: np.ndarray, levels: tuple[float, float]) -> None:
        """Draw ``shown`` (T, S) with colours spanning ``levels``; an empty one clears."""
        if shown.shape[0] == 0:
            self.image.clear()
            return
        self.image.setImage(shown, autoLevels=False, levels=levels)
        if tuple(self.bar.levels()) != tuple(levels):  # unchanged: its axis keeps its picture
            self.bar.setLevels(levels)
        # the view range follows the new image now, not in the paint: a range changed
        # there marks everything dirty again and the plot is painted twice per frame
        self.viewbox.prepareForPaint()

    def outline(self, rows: int, columns: int, row: int | None, col: int | None) -> None:
        """Outline row ``row`` and column ``col`` of a ``rows`` x ``columns`` matrix (None,
        or off the matrix: hidden), and fit the marked row to it."""
        show_row = row is not None and 0 <= row < rows
        show_col = col is not None and 0 <= col < columns
        if show_row:
            self.row_box.setRect(QtCore.QRectF(0, row, columns, 1))
        if show_col:
            self.col_box.setRect(QtCore.QRectF(col, 0, 1, rows))
        self.row_box.setVisible(show_row)
        self.col_box.setVisible(show_col)
        self.mark.place(rows, columns)

    def cell_at(self, scene_pos: QtCore.QPointF, shape: tuple[int, int]) -> tuple[int, int] | None:
        """(row, col) under a scene position in a matrix of ``shape``, or None off it."""
        if not self.viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.viewbox.mapSceneToView(scene_pos)
        row, col = math.floor(point.y()), math.floor(point.x())
        if 0 <= row < shape[0] and 0 <= col < shape[1]:
            return row, col
        return None

    def scene_pos_of_cell(self, row: int, col: int) -> QtCore.QPointF:
        """Scene position of the centre of cell (row, col)."""
        return self.viewbox.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))

    def view_point(self, scene_pos: QtCore.QPointF) -> QtCore.QPointF:
        """The view (cell) coordinates of a scene position."""
        return self.viewbox.mapSceneToView(scene_pos)
