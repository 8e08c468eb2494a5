"""A pyqtgraph axis labelled with tokens, one per matrix cell, thinned to fit.

Used on both axes of the attention heat map: source tokens across the top,
target tokens down the left. Labels sit at cell centres (i + 0.5).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtGui

from attnscope.gui.style import elide, label_font

LABEL_CHARS = 14  # longer tokens are elided on the axes (full text in tooltips)
_NICE_STRIDES = (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000)


class TokenAxis(pg.AxisItem):
    """Axis labelled with tokens at cell centres (i + 0.5), thinned so labels never overlap.

    ``setTicks`` with every label would pile 200 tokens on top of each other;
    instead the stride is picked from the current zoom, so zooming in reveals
    every token.
    """

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self._labels: list[str] = []
        self._extent = 1.0  # pixels one label needs along the axis
        self._metrics: QtGui.QFontMetricsF | None = None
        self._widths: dict[str, float] = {}  # label text -> pixels (the font never changes)
        self._fixed_width: int | None = None
        # let edge labels spill past the axis ends rather than vanish
        self.setStyle(tickFont=label_font(), hideOverlappingLabels=False)

    def set_labels(self, labels: list[str]) -> None:
        """Replace the category labels (index i labels cell i).

        Unchanged labels cost nothing (no new picture); label widths are
        measured once per text, so a decode adding one row measures one label.
        """
        elided = [elide(text, LABEL_CHARS) for text in labels]
        if elided == self._labels:
            return
        self._labels = elided
        if self._metrics is None:
            self._metrics = QtGui.QFontMetricsF(self.style["tickFont"])
        widths = self._widths
        for text in elided:
            if text not in widths:
                widths[text] = self._metrics.horizontalAdvance(text)
        widest = max((widths[text] for text in elided), default=0.0)
        if self.orientation in ("top", "bottom"):
            self._extent = widest + 10.0
        else:
            self._extent = self._metrics.height() + 2.0
            # pyqtgraph only widens the axis after a paint that clipped labels; size it up front
            width = int(widest) + 16
            if width != self._fixed_width:
                self._fixed_width = width
                self.setWidth(width)
        self.picture = None
        self.update()

    def labels(self) -> list[str]:
        return list(self._labels)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        count = len(self._labels)
        minVal, maxVal = sorted((minVal, maxVal))  # an inverted view passes them swapped
        if count == 0 or size <= 0 or maxVal <= minVal:
            return []
        pixels_per_cell = size / (maxVal - minVal)
        wanted = self._extent / pixels_per_cell
        stride = next((s for s in _NICE_STRIDES if s >= wanted), _NICE_STRIDES[-1])
        first = max(0, math.ceil(minVal - 0.5))
        last = min(count - 1, math.floor(maxVal - 0.5))
        start = -(-first // stride) * stride
        return [(float(stride), [i + 0.5 for i in range(start, last + 1, stride)])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        count = len(self._labels)
        return [self._labels[int(v)] if 0 <= int(v) < count else "" for v in values]
