"""Reverse look-up for captioning: which caption words attended to one image region.

Clicking a cell of the attention overlay lists every caption word with its
weight on that cell, as horizontal bars, strongest first.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from attnscope.gui.style import HIGHLIGHT_COLOUR, SELECTION_COLOUR


class RegionWordsChart(QWidget):
    """Reverse look-up: bars of how much each caption word attended to one image cell.

    Rows are sorted by weight, strongest first; clicking a row emits
    ``wordClicked(step)`` with that word's decode step.
    """

    wordClicked = Signal(int)
    ROW_HEIGHT = 20
    HEADER = 2 * ROW_HEIGHT + 6  # the title, wrapped over up to two lines

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = ""
        self._rows: list[tuple[int, str, float]] = []
        self.setMinimumWidth(200)
        self.setToolTip("Click a region of the picture to see which words looked there")

    def set_region(self, title: str, words, weights) -> None:
        """``weights[i]`` is word i's attention on the cell (one value per word)."""
        rows = [(i, w, float(v)) for i, (w, v) in enumerate(zip(words, weights, strict=True))]
        self._title, self._rows = title, sorted(rows, key=lambda r: -r[2])
        self.setMinimumHeight(self.HEADER + self.ROW_HEIGHT * (len(rows) + 1))
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self._title, self._rows = "", []
        self.setMinimumHeight(0)
        self.update()

    def title(self) -> str:
        return self._title

    def rows(self) -> list[tuple[int, str, float]]:
        """(step, word, weight) per word, strongest first."""
        return list(self._rows)

    def sizeHint(self) -> QSize:
        return QSize(240, self.HEADER + self.ROW_HEIGHT * (len(self._rows) + 1))

    def row_centre(self, index: int) -> QPoint:
        """Where row ``index`` (0 = strongest) is drawn, in widget coordinates."""
        return QPoint(40, self.HEADER + index * self.ROW_HEIGHT + self.ROW_HEIGHT // 2)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        text = self.palette().windowText().color()
        painter.setPen(text)
        if not self._rows:
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), Qt.TextWordWrap, self.toolTip())
            return
        title = QRectF(8, 4, self.width() - 16, self.HEADER - 6)
        painter.drawText(title, Qt.TextWordWrap | Qt.AlignBottom, self._title)
        top = max(v for _, _, v in self._rows) or 1.0
        label_w, value_w = 90, 48
        bar_w = max(20, self.width() - label_w - value_w - 24)
        for row, (step, word, value) in enumerate(self._rows):
            y = self.HEADER + row * self.ROW_HEIGHT
            label = self.fontMetrics().elidedText(f"{step + 1}. {word}", Qt.ElideRight, label_w)
            painter.setPen(text)
            painter.drawText(QRectF(8, y, label_w, self.ROW_HEIGHT), Qt.AlignVCenter, label)
            bar = QRectF(12 + label_w, y + 3, bar_w * value / top, self.ROW_HEIGHT - 6)
            painter.fillRect(bar, QColor(SELECTION_COLOUR if row else HIGHLIGHT_COLOUR))
            painter.drawText(
                QRectF(16 + label_w + bar_w, y, value_w, self.ROW_HEIGHT),
                Qt.AlignVCenter,
                f"{value:.3f}",
            )

    def mousePressEvent(self, event) -> None:
        offset = event.position().y() - self.HEADER
        row = int(offset // self.ROW_HEIGHT)
        if offset >= 0 and row < len(self._rows):
            self.wordClicked.emit(self._rows[row][0])
