"""What compare mode draws under the two panes: how the two attentions differ.

Both draw an ``AttentionComparison`` (engine/compare/attention.py): one output (model
A's) forced through both models, so row t of A and of B is about the same token. When
both models cut the text into the same pieces it is on pieces, otherwise on words
(subwords grouped: a source word's weight is the sum of its pieces').

- ``DifferenceMap``: A minus B on that grid, on a diverging colour scale from -1
  (blue: B looks there) to +1 (red: A does), with the mean Jensen-Shannon divergence
  and the top-1 agreement of the rows.
- ``AttentionShareChart``: per source column (piece or word), the share of all the
  output's attention each model gave it, two bars side by side.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from attnscope.gui.token_axis import TokenAxis
from attnscope.gui.translate_view import display_piece

DIVERGING_MAP = "CET-D1"  # blue - white - red, perceptually even
A_COLOUR, B_COLOUR = "#1f6feb", "#e8871e"  # the two models, in every compare view
LEVEL_WORDING = {"piece": "subword pieces", "word": "words (subwords grouped)"}


def describe_comparison(comparison) -> str:
    """One line: the grid and the two agreement figures."""
    return (
        f"A's output through both models, on {LEVEL_WORDING.get(comparison.level, comparison.level)}: "
        f"mean Jensen-Shannon divergence {comparison.mean_jsd:.3f} bits (0 = the same), "
        f"top-1 agreement {comparison.top1_agreement:.0%}"
    )


class DifferenceMap(QtWidgets.QWidget):
    """A minus B on the shared source axis, -1 (blue, B) .. +1 (red, A)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._x_axis, self._y_axis = TokenAxis("top"), TokenAxis("left")
        self.plot = pg.PlotWidget(axisItems={"top": self._x_axis, "left": self._y_axis})
        item = self.plot.getPlotItem()
        item.showAxis("top")
        item.hideAxis("bottom")
        item.hideButtons()
        item.getViewBox().invertY(True)
        item.getViewBox().setDefaultPadding(0.0)
        item.getViewBox().setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        item.addItem(self.image)
        bar = pg.ColorBarItem(
            values=(-1, 1),
            colorMap=pg.colormap.get(DIVERGING_MAP),
            interactive=False,
            width=14,
            colorMapMenu=False,
            label="A − B",
        )
        bar.setImageItem(self.image, insert_in=item)
        self.plot.setToolTip(
            "Attention of model A minus model B over A's output: red where A looks more, "
            "blue where B does (heads averaged)"
        )
        self.caption = QtWidgets.QLabel()
        self.caption.setWordWrap(True)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)
        self._values = np.zeros((0, 0), dtype=np.float32)

    def show_comparison(self, comparison) -> None:
        """Draw ``comparison.difference`` (R, C) with its row and column labels."""
        self._values = np.asarray(comparison.difference, dtype=np.float32)
        rows, columns = self._values.shape
        self._x_axis.set_labels([display_piece(p) for p in comparison.columns])
        self._y_axis.set_labels([display_piece(p) for p in comparison.rows])
        self.image.setImage(self._values, autoLevels=False, levels=(-1, 1))
        self.image.setRect(0, 0, columns, rows)
        self.caption.setText(describe_comparison(comparison))
        self.plot.getPlotItem().getViewBox().autoRange(padding=0.0)

    def values(self) -> np.ndarray:
        """(T, S) the difference shown."""
        return self._values.copy()


class AttentionShareChart(QtWidgets.QWidget):
    """Per source column, the share of attention each model gave it (two bars each)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._axis = TokenAxis("bottom")
        self.plot = pg.PlotWidget(axisItems={"bottom": self._axis})
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setLabel("left", "share of attention")
        item.getViewBox().setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        self.legend = item.addLegend(offset=(-10, 10))
        self.plot.setToolTip(
            "Share of the output's attention per source piece, or per word when the two "
            "models cut words differently (steps and heads averaged): A blue, B orange"
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.words: list[str] = []
        self.shares = np.zeros((2, 0), dtype=np.float32)

    def show_comparison(self, comparison, names) -> None:
        """Each model's share of attention per source column of ``comparison``;
        names: (A's, B's) for the legend."""
        self.words = [display_piece(p) for p in comparison.columns]
        self.shares = np.stack([comparison.a.mean(axis=0), comparison.b.mean(axis=0)])
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        x = np.arange(len(self.words), dtype=np.float32)
        for offset, values, colour, name in (
            (0.3, self.shares[0], A_COLOUR, names[0]),
            (0.7, self.shares[1], B_COLOUR, names[1]),
        ):
            bars = pg.BarGraphItem(x=x + offset, height=values, width=0.38, brush=colour)
            item.addItem(bars)
            self.legend.addItem(bars, name)
        self._axis.set_labels(self.words)
        top = float(self.shares.max()) if self.shares.size else 1.0
        item.setRange(xRange=(0, max(len(self.words), 1)), yRange=(0, max(top, 1e-3) * 1.1))
