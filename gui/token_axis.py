"""A pyqtgraph axis labelled with tokens, one per matrix cell.

Used on both axes of the attention heat map: source tokens across the top,
target tokens down the left. Labels sit at cell centres (i + 0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.style import elide, label_font

LABEL_CHARS = 14  # longer tokens are elided on the axes (full text in tooltips)
MIN_FONT_SCALE = 0.7  # labels shrink to this share of the font before any is left out
LABEL_GAP_PX = 1.0  # between two vertical labels, or two rows' labels
HORIZONTAL_GAP_PX = 10.0  # between two horizontal labels
WIDTH_STEP_PX = 24  # a side axis widens and narrows in steps of this
_NICE_STRIDES = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)
_ROUNDING = 1e-6  # a cell of exactly min_cell_pixels() still gets its label


@dataclass(frozen=True)
class LabelLayout:
    """How the labels fit a cell size: every ``stride``-th label, the font scaled by
    ``scale``, written upright (``vertical``, top axis only) or along the axis."""

    stride: int = 1
    scale: float = 1.0
    vertical: bool = False


def fit_labels(pixels_per_cell: float, *, widest: float, height: float, along: bool) -> LabelLayout:
    """The layout that shows the most labels in cells ``pixels_per_cell`` long.

    ``widest`` and ``height``: the longest label's advance and the line height at full
    size; ``along``: the axis runs across the labels' width (the top axis), where a
    label that does not fit lying down is stood upright. Labels shrink down to
    MIN_FONT_SCALE before every second one (then every fifth...) is left out.
    """
    if along and widest + HORIZONTAL_GAP_PX <= pixels_per_cell:
        return LabelLayout()
    for_scale = (pixels_per_cell - LABEL_GAP_PX) / height  # the font that just fits
    if for_scale >= MIN_FONT_SCALE - _ROUNDING:
        return LabelLayout(scale=min(1.0, for_scale), vertical=along)
    wanted = (MIN_FONT_SCALE * height + LABEL_GAP_PX) / pixels_per_cell
    stride = next((s for s in _NICE_STRIDES if s >= wanted), _NICE_STRIDES[-1])
    return LabelLayout(stride=stride, scale=MIN_FONT_SCALE, vertical=along)


class TokenAxis(pg.AxisItem):
    """Axis labelled with tokens at cell centres (i + 0.5); labels never overlap.

    At each paint the cell size picks a ``LabelLayout``: every token when it fits,
    the top axis's tokens stood upright when lying down they would not, a smaller
    font, and only then every second (fifth...) token. The heat map keeps cells at
    least ``min_cell_pixels()`` long (scrolling) for up to 50 tokens, so thinning
    starts beyond that; zooming in reveals every token. ``shown_labels()`` is what
    the last paint wrote.
    """

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._labels: list[str] = []
        self._widest = 0.0  # pixels of the longest label at full size
        self._metrics: QtGui.QFontMetricsF | None = None
        self._widths: dict[str, float] = {}  # label text -> pixels (the font never changes)
        self._fixed_width: int | None = None
        self._fixed_height: int | None = None  # upright labels' height; None: pyqtgraph's
        self._layout = LabelLayout()
        self._shown: list[int] = []  # label indices the last paint wrote
        # let edge labels spill past the axis ends rather than vanish
        self.setStyle(tickFont=label_font(), hideOverlappingLabels=False)
        # tokens have no unit: without an SI prefix a range change never re-lays the title
        self.enableAutoSIPrefix(False)
        # painted once into a pixmap and blitted after: a step that adds a row otherwise
        # replays every label of the unchanged source axis (issue 22)
        self.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_labels(self, labels: list[str]) -> bool:
        """Replace the category labels (index i labels cell i); True when the axis changed
        its size for them (the plot's layout then needs doing again).

        Unchanged labels cost nothing (no new picture); label widths are
        measured once per text, so a decode adding one row measures one label.
        """
        elided = [elide(text, LABEL_CHARS) for text in labels]
        if elided == self._labels:
            return False
        size = (self._fixed_width, self._fixed_height)
        self._labels = elided
        if self._metrics is None:
            self._metrics = QtGui.QFontMetricsF(self.style["tickFont"])
        widths = self._widths
        for text in elided:
            if text not in widths:
                widths[text] = self._metrics.horizontalAdvance(text)
        self._widest = max((widths[text] for text in elided), default=0.0)
        if self.orientation in ("left", "right"):
            # pyqtgraph only widens the axis after a paint that clipped labels; size it up
            # front, in steps: a new width lays the plot out again (a decode's rows come
            # one at a time, and most new labels then fit the width there is)
            width = math.ceil((self._widest + 16) / WIDTH_STEP_PX) * WIDTH_STEP_PX
            if width != self._fixed_width:
                self._fixed_width = width
                self.setWidth(width)
        elif self._layout.vertical:
            self._fit_height(self._layout)
        self.picture = None
        self.update()
        return (self._fixed_width, self._fixed_height) != size

    def labels(self) -> list[str]:
        return list(self._labels)

    def shown_labels(self) -> list[str]:
        """The labels the last paint wrote (every token unless the cells were too small)."""
        return [self._labels[i] for i in self._shown if i < len(self._labels)]

    def shown_indices(self) -> list[int]:
        """The cells whose labels the last paint wrote."""
        return [i for i in self._shown if i < len(self._labels)]

    def label_layout(self) -> LabelLayout:
        return self._layout

    def min_cell_pixels(self) -> float:
        """The smallest cell that still gets its own label (upright on the top axis)."""
        return MIN_FONT_SCALE * self._line_height() + LABEL_GAP_PX

    def _line_height(self) -> float:
        if self._metrics is None:
            self._metrics = QtGui.QFontMetricsF(self.style["tickFont"])
        return self._metrics.height()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        count = len(self._labels)
        minVal, maxVal = sorted((minVal, maxVal))  # an inverted view passes them swapped
        if count == 0 or size <= 0 or maxVal <= minVal:
            self._shown = []
            return []
        layout = fit_labels(
            size / (maxVal - minVal),
            widest=self._widest,
            height=self._line_height(),
            along=self.orientation in ("top", "bottom"),
        )
        if layout != self._layout:
            if layout.vertical != self._layout.vertical or layout.vertical:
                self._fit_height(layout)
            self._layout = layout
        stride = layout.stride
        first = max(0, math.ceil(minVal - 0.5))
        last = min(count - 1, math.floor(maxVal - 0.5))
        start = -(-first // stride) * stride
        self._shown = list(range(start, last + 1, stride))
        return [(float(stride), [i + 0.5 for i in self._shown])]

    def _fit_height(self, layout: LabelLayout) -> None:
        """Upright labels need the longest one's length; lying labels the automatic height."""
        if self.orientation not in ("top", "bottom"):
            return
        height = math.ceil(self._widest * layout.scale) + 12 if layout.vertical else None
        if height != self._fixed_height:
            self._fixed_height = height
            self.setHeight(height)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        count = len(self._labels)
        return [self._labels[int(v)] if 0 <= int(v) < count else "" for v in values]

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs) -> None:
        """pyqtgraph's drawing, with the labels in the layout's font and direction."""
        layout = self._layout
        if layout.scale == 1.0 and not layout.vertical:
            super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
            return
        super().drawPicture(p, axisSpec, tickSpecs, [])
        font = QtGui.QFont(self.style["tickFont"])
        font.setPointSizeF(font.pointSizeF() * layout.scale)
        p.setFont(font)
        p.setPen(self.textPen())
        if not layout.vertical:
            for rect, flags, text in textSpecs:
                p.drawText(rect, int(flags), text)
            return
        height = self._line_height() * layout.scale
        length = self._widest * layout.scale + 2
        align = QtCore.Qt.AlignLeft | QtCore.Qt.AlignVCenter
        for rect, _flags, text in textSpecs:
            p.save()
            p.translate(rect.center().x(), rect.bottom())
            p.rotate(-90)  # reads bottom to top, starting at the axis line
            p.drawText(QtCore.QRectF(0, -height / 2, length, height), int(align), text)
            p.restore()
