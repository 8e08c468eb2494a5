"""Items drawn in the heat map's plot: its image, the coverage bar, a marked row.

``TrueColourImageItem`` is the matrix; ``CoverageBar`` how much attention each source
token has received so far; ``RowMark`` outlines a target row (a breakpoint's stop).

Coverage of source token j after step t is the sum of its attention over steps
0..t, heads averaged: ``attention[: t + 1].mean(axis=1).sum(axis=0)`` for an
attention array (T, heads, S). A translation that covers its source well ends
near 1 for every token; a token far below was (so far) left out, one far above
was attended again and again (over-translation, repetition).

The bar is drawn in the heat map's own plot, in the band just under the source
axis (rows -1..0 of the inverted view), so its columns line up with the matrix
whatever the zoom. Bars are coloured by band: under-covered, covered, over-covered.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

UNDER_COVERED = 0.2  # below this a token counts as (so far) uncovered (the breakpoint's default)
OVER_COVERED = 2.5  # above this it counts as over-covered (the breakpoint's default τ)
BAND_SHARE = 0.12  # the bars' band is this share of the matrix's height, and at least a row
BAR_GAP = 0.08  # empty space between the bars and the matrix
HEIGHT_CAP = 2.0  # coverage that fills the band
COLOURS = {"under": "#5b8fd9", "covered": "#4caf6e", "over": "#e0533d"}
STRIP_COLOUR = "#f3f3f3"
DASHED = QtCore.Qt.PenStyle.DashLine
BREAK_COLOUR = "#d93025"  # a breakpoint's stop, on the heat map and the chips
BAND_WORDS = {"under": "under-covered", "covered": "covered", "over": "over-covered"}


class TrueColourImageItem(pg.ImageItem):
    """An ``ImageItem`` whose rendered image is 32-bit colour, not colour-indexed.

    pyqtgraph renders a float matrix through a colour map as an 8-bit indexed
    QImage; Qt scales indexed images on a slow generic path (about 2 ms for a
    heat map filling the view, ten times a 32-bit image's), and the heat map
    is redrawn on every decode step. The conversion costs microseconds: the
    image has one pixel per cell.
    """

    def render(self) -> None:
        super().render()
        image = self.qimage
        if image is not None and image.format() == QtGui.QImage.Format.Format_Indexed8:
            opaque = not image.hasAlphaChannel()
            self.qimage = image.convertToFormat(
                QtGui.QImage.Format.Format_RGB32
                if opaque
                else QtGui.QImage.Format.Format_ARGB32_Premultiplied
            )


def running_coverage(attention: np.ndarray, step: int) -> np.ndarray:
    """(S,) coverage of each source token after step ``step`` (0-based, inclusive).

    attention: (T, heads, S) weights of one hypothesis; steps past T are clamped.
    """
    attention = np.asarray(attention, dtype=np.float32)
    if attention.ndim != 3:
        raise ValueError(f"attention must be (T, heads, S), got shape {attention.shape}")
    rows = min(max(step + 1, 0), attention.shape[0])
    return attention[:rows].mean(axis=1).sum(axis=0, dtype=np.float32)


def band_rows(rows: int) -> float:
    """Height of the coverage bars' band, in rows, over a matrix of ``rows`` rows."""
    return max(1.0, BAND_SHARE * rows)


class CoverageBar:
    """Bars of source coverage under the source axis of a heat map's ``plot_item``."""

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self._values = np.zeros(0, dtype=np.float32)
        self._step: int | None = None
        self._band = 1.0  # height of the bars' band, in rows: y from -band to 0
        self.under, self.over = UNDER_COVERED, OVER_COVERED
        self._drawn: tuple | None = None  # what the bars show: skip drawing it again
        # One single-colour item per band: pyqtgraph draws those in one drawRects call,
        # where a bar item of many colours records a QPicture rect by rect on every
        # change (with the long example's 64 columns, about 15 % of the GUI thread's
        # time per step; issue 22).
        self._bars = {}
        for band, colour in COLOURS.items():
            bars = pg.BarGraphItem(x0=[], y0=[], width=[], height=[], brush=colour, pen=None)
            bars.setZValue(5)
            plot_item.addItem(bars)
            self._bars[band] = bars
        self._strip = QtWidgets.QGraphicsRectItem()  # the band's light background
        self._strip.setBrush(QtGui.QBrush(QtGui.QColor(STRIP_COLOUR)))
        self._strip.setPen(pg.mkPen(None))
        self._strip.setZValue(4)
        plot_item.addItem(self._strip, ignoreBounds=True)
        self._full = pg.InfiniteLine(angle=0, pen=pg.mkPen("#555", width=1, style=DASHED))
        self._full.setZValue(6)  # coverage 1.0: every token looked at once
        plot_item.addItem(self._full, ignoreBounds=True)

    def full_line_y(self) -> float:
        """View y of the dashed line marking coverage 1.0 (tests, exports)."""
        return float(self._full.value())

    def set_thresholds(self, under: float, over: float) -> None:
        """Coverage below ``under`` is drawn as under-covered, above ``over`` as over."""
        if not 0 <= under < over:
            raise ValueError(f"coverage bands need 0 ≤ under < over, got {under} and {over}")
        self.under, self.over = float(under), float(over)
        self._redraw()

    def set_coverage(self, values: np.ndarray | None, step: int | None, *, rows: int = 1) -> None:
        """Show ``values`` (S,) as the coverage after step ``step`` over a matrix of
        ``rows`` rows (the band scales with it); None clears the bar."""
        self._band = band_rows(rows)
        if values is None or step is None:
            self._values, self._step = np.zeros(0, dtype=np.float32), None
        else:
            self._values, self._step = np.asarray(values, dtype=np.float32).copy(), int(step)
        self._redraw()

    def values(self) -> np.ndarray:
        """(S,) the coverage shown (empty when none)."""
        return self._values.copy()

    def step(self) -> int | None:
        """The 0-based step the coverage is counted up to, None when nothing is shown."""
        return self._step

    def band(self, col: int) -> str:
        """ "under", "covered" or "over" for source column ``col``."""
        return str(self._column_bands()[col])

    def column_at(self, x: float, y: float) -> int | None:
        """The source column whose bar band holds view point (x, y), else None."""
        col = int(np.floor(x))
        if -self._band <= y < 0 and 0 <= col < len(self._values):
            return col
        return None

    def describe(self, col: int, token: str) -> str:
        """The tooltip of one bar: ``'Mann': coverage 0.12 after step 7 (under-covered)``."""
        step = (self._step or 0) + 1
        value = float(self._values[col])
        return f"{token!r}: coverage {value:.2f} after step {step} ({BAND_WORDS[self.band(col)]})"

    def tip_at(self, x: float, y: float, tokens: list[str]) -> str:
        """The tooltip of the bar under view point (x, y), "" off the bars."""
        col = self.column_at(x, y)
        if col is None:
            return ""
        return self.describe(col, tokens[col] if col < len(tokens) else f"#{col}")

    def _column_bands(self) -> np.ndarray:
        """(S,) each column's band: "under", "covered" or "over"."""
        bands = np.full(len(self._values), "covered", dtype=object)
        bands[self._values < self.under] = "under"
        bands[self._values > self.over] = "over"
        return bands

    def _redraw(self) -> None:
        count = len(self._values)
        drawn = (self._values.tobytes(), self._band, self.under, self.over)
        if drawn == self._drawn:  # a step re-selected, a mark moved: the same bars
            return
        self._drawn = drawn
        self._strip.setVisible(count > 0)
        self._full.setVisible(count > 0)
        if count == 0:
            for bars in self._bars.values():
                bars.setOpts(x0=[], y0=[], width=[], height=[])
            return
        space = self._band - BAR_GAP * self._band
        self._strip.setRect(QtCore.QRectF(0, -self._band, count, self._band))
        self._full.setPos(-BAR_GAP * self._band - space / HEIGHT_CAP)
        heights = np.clip(self._values / HEIGHT_CAP, 0.0, 1.0) * space
        heights = np.maximum(heights, 0.02)  # a zero still shows as a sliver
        bands = self._column_bands()
        for band, bars in self._bars.items():
            cols = np.flatnonzero(bands == band)
            bars.setOpts(
                x0=cols + 0.15,
                y0=-BAR_GAP * self._band - heights[cols],
                width=np.full(len(cols), 0.7),
                height=heights[cols],
            )


def outline_box(plot_item: pg.PlotItem, colour: str) -> QtWidgets.QGraphicsRectItem:
    """A hidden rectangle outline in ``colour`` over the plot (the selected row or column)."""
    box = QtWidgets.QGraphicsRectItem()
    pen = QtGui.QPen(QtGui.QColor(colour), 2)
    pen.setCosmetic(True)
    box.setPen(pen)
    box.setZValue(10)
    box.hide()
    plot_item.addItem(box, ignoreBounds=True)
    return box


def room_for_row(buffer: np.ndarray, rows: int) -> np.ndarray:
    """``buffer`` (capacity, heads, S) holding ``rows`` rows, with room for one more
    (doubled when full, so live stepping copies rarely)."""
    if rows < buffer.shape[0]:
        return buffer
    grown = np.zeros((max(64, 2 * rows), *buffer.shape[1:]), dtype=np.float32)
    grown[:rows] = buffer[:rows]
    return grown


class RowMark:
    """A dashed outline around one target row, with a tooltip (a breakpoint's stop)."""

    def __init__(self, plot_item: pg.PlotItem, colour: str = BREAK_COLOUR) -> None:
        self._box = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(colour), 2, QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._box.setPen(pen)
        self._box.setZValue(11)
        self._box.hide()
        self.row: int | None = None
        plot_item.addItem(self._box, ignoreBounds=True)

    def set_row(self, row: int | None, tip: str = "") -> None:
        """Mark target row ``row`` (None: no mark); ``tip`` is its tooltip."""
        self.row = row
        self._box.setToolTip(tip)

    def place(self, rows: int, columns: int) -> None:
        """Fit the outline to a matrix of ``rows`` × ``columns`` (hidden when off it)."""
        visible = self.row is not None and 0 <= self.row < rows
        if visible:
            self._box.setRect(QtCore.QRectF(0, self.row, columns, 1))
        self._box.setVisible(visible)


def score_rows(scores: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    """(T, heads, S) raw scores aligned with the weights' ``shape``; rows not fetched
    yet (or scores of another shape) are NaN, drawn as empty cells."""
    rows = np.full(shape, np.nan, dtype=np.float32)
    if scores is not None and scores.shape[1:] == shape[1:]:
        count = min(shape[0], scores.shape[0])
        rows[:count] = scores[:count]
    return rows


def score_levels(shown: np.ndarray) -> tuple[float, float]:
    """The colour range of raw scores: their finite min and max (a span of 1 if flat)."""
    finite = shown[np.isfinite(shown)]
    if finite.size == 0:
        return (0.0, 1.0)
    low, high = float(finite.min()), float(finite.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)
