"""Scrolling the heat map so that every token keeps its label.

A cell is never drawn smaller than its label needs at the smallest font
(``TokenAxis.min_cell_pixels``) while its axis holds at most ``LABEL_EVERY_UP_TO``
cells: when they do not fit the plot, the view shows a window of them and a scroll
bar moves it, the token labels staying on the axis. An axis with more cells is
fitted whole and its labels thinned: an overview, where hovering or zooming in
names each cell. Panning or zooming with the mouse moves the scroll bar too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

LABEL_EVERY_UP_TO = 50  # cells on an axis that all get a label (scrolling if need be)
_UNITS_PER_CELL = 100  # scroll bar units: a hundredth of a cell


def visible_span(low: float, high: float, *, cells: int, pixels: float, min_cell: float) -> float:
    """How much of the view range ``low..high`` (holding ``cells`` labelled cells) the view
    shows in ``pixels``: all of it, unless its cells would be smaller than ``min_cell``
    pixels and there are at most LABEL_EVERY_UP_TO of them."""
    extent = high - low
    if cells > LABEL_EVERY_UP_TO or pixels <= 0 or extent * min_cell <= pixels:
        return extent
    return max(1.0, pixels / min_cell)


class AxisScroll(QtCore.QObject):
    """The scroll bar of one axis (``"x"`` columns, ``"y"`` rows) of a heat map's view box.

    ``set_extent`` says what the axis holds; the view then shows as much of it as
    fits with labelled cells, keeping its start (clamped). ``show_cell`` brings one
    cell into view.
    """

    def __init__(self, viewbox: pg.ViewBox, axis: str, min_cell: Callable[[], float]) -> None:
        super().__init__(viewbox)
        self._viewbox = viewbox
        self._axis = axis
        self._min_cell = min_cell
        self._low, self._high, self._cells = 0.0, 1.0, 0
        self._start, self._span = 0.0, 1.0
        self._setting = False  # the view range is being set from here
        orientation = QtCore.Qt.Orientation
        self.bar = QtWidgets.QScrollBar(
            orientation.Horizontal if axis == "x" else orientation.Vertical
        )
        self.bar.setSingleStep(_UNITS_PER_CELL)
        self.bar.setToolTip(
            "Scroll the heat map: its cells keep a readable label"
            if axis == "x"
            else "Scroll the target rows: each keeps a readable label"
        )
        self.bar.hide()
        self.bar.valueChanged.connect(self._on_bar_moved)
        viewbox.sigResized.connect(self._fit)
        signal = viewbox.sigXRangeChanged if axis == "x" else viewbox.sigYRangeChanged
        signal.connect(self._on_range_changed)

    def set_extent(self, low: float, high: float, cells: int) -> None:
        """The axis spans ``low..high`` in view units and holds ``cells`` labelled cells."""
        if (low, high, cells) != (self._low, self._high, self._cells):
            self._low, self._high, self._cells = float(low), float(high), int(cells)
            self._fit()

    def span(self) -> float:
        """How many view units the view shows (the whole extent when nothing scrolls)."""
        return self._span

    def start(self) -> float:
        return self._start

    def show_cell(self, index: int) -> None:
        """Bring cell ``index`` (index..index + 1) into view, centred when it was out of it
        (a jump keeps the cells around it in view; the ends clamp, so the newest row of a
        live decode sits at the bottom)."""
        if self._start <= index and index + 1 <= self._start + self._span:
            return
        self._apply(index + 0.5 - self._span / 2)

    def _pixels(self) -> float:
        rect = self._viewbox.boundingRect()
        return rect.width() if self._axis == "x" else rect.height()

    def _fit(self) -> None:
        limits = {f"{self._axis}Min": self._low, f"{self._axis}Max": self._high}
        self._setting = True  # new limits clamp the view range: not a pan of the user's
        try:
            self._viewbox.setLimits(**limits)
        finally:
            self._setting = False
        self._span = visible_span(
            self._low,
            self._high,
            cells=self._cells,
            pixels=self._pixels(),
            min_cell=self._min_cell(),
        )
        self._apply(self._start)

    def _apply(self, start: float) -> None:
        """Show ``span`` view units from ``start`` (clamped to the extent) and sync the bar."""
        start = min(max(start, self._low), self._high - self._span)
        self._start = start
        self._setting = True
        try:
            if self._axis == "x":
                self._viewbox.setXRange(start, start + self._span, padding=0.0)
            else:
                self._viewbox.setYRange(start, start + self._span, padding=0.0)
        finally:
            self._setting = False
        self._sync_bar()

    def _sync_bar(self) -> None:
        hidden = self._high - self._low - self._span
        with QtCore.QSignalBlocker(self.bar):
            self.bar.setRange(0, max(0, math.floor(hidden * _UNITS_PER_CELL)))
            self.bar.setPageStep(max(1, round(self._span * _UNITS_PER_CELL)))
            self.bar.setValue(round((self._start - self._low) * _UNITS_PER_CELL))
        self.bar.setVisible(hidden > 1e-6)

    def _on_bar_moved(self, value: int) -> None:
        self._apply(self._low + value / _UNITS_PER_CELL)

    def _on_range_changed(self, _viewbox, view_range) -> None:
        """A pan or zoom with the mouse: the bar follows the view."""
        if self._setting:
            return
        low, high = sorted(view_range)
        self._start, self._span = low, min(high - low, self._high - self._low)
        self._sync_bar()
