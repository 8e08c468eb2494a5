"""What compare mode draws under the two heat maps: how the two attentions differ.

- ``DifferenceMap``: when both models cut the source into the same pieces, model A's
  attention minus model B's, step by step (the first min(T_a, T_b) steps, heads
  averaged), on a diverging colour scale from -1 (B looks there) to +1 (A does).
- ``WordAttentionChart``: attention per source *word*, for any two tokenizers: each
  model's pieces are grouped into the words of the source (a piece starting with ▁
  starts a word; ``</s>`` is a word of its own), the weights of a word's pieces are
  added, and the steps averaged, so each bar is the share of the decode's attention
  that word received; the two models' bars stand side by side.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from attnscope.engine.pieces import EOS_PIECE, WORD_START
from attnscope.gui.token_axis import TokenAxis
from attnscope.gui.translate_view import display_piece

DIVERGING_MAP = "CET-D1"  # blue - white - red, perceptually even
A_COLOUR, B_COLOUR = "#1f6feb", "#e8871e"  # the two models, in every compare view


def mean_heads(attention: np.ndarray) -> np.ndarray:
    """(T, heads, S) -> (T, S): the heads averaged."""
    return np.asarray(attention, dtype=np.float32).mean(axis=1)


def attention_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T_a, heads, S) and (T_b, heads, S) -> (min(T_a, T_b), S): A minus B."""
    rows = min(a.shape[0], b.shape[0])
    return mean_heads(a[:rows]) - mean_heads(b[:rows])


def source_words(pieces) -> tuple[list[str], list[int]]:
    """The words of a piece sequence and, per piece, the index of its word.

    A piece starting with ▁ (or the first piece) starts a word; ``</s>`` is a word of
    its own, so the two models' final attention to it compares too.
    """
    words: list[str] = []
    word_of: list[int] = []
    for piece in pieces:
        if piece == EOS_PIECE or piece.startswith(WORD_START) or not words:
            words.append(piece.lstrip(WORD_START) if piece != EOS_PIECE else piece)
        else:
            words[-1] += piece
        word_of.append(len(words) - 1)
    return words, word_of


def word_attention(pieces, attention: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The source words and the share of all attention each received: (W,), sums to 1.

    pieces: the S source pieces; attention: (T, heads, S).
    """
    words, word_of = source_words(pieces)
    per_piece = mean_heads(attention).mean(axis=0)  # (S,)
    shares = np.zeros(len(words), dtype=np.float32)
    np.add.at(shares, np.asarray(word_of, dtype=np.intp), per_piece)
    return words, shares


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
            "Attention of model A minus model B at each step: red where A looks more, "
            "blue where B does (heads averaged)"
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self._values = np.zeros((0, 0), dtype=np.float32)

    def show_difference(self, source, target_a, target_b, a: np.ndarray, b: np.ndarray) -> None:
        """source: the shared S pieces; target_*: each model's pieces; a, b: (T, heads, S)."""
        self._values = attention_difference(a, b)
        rows = self._values.shape[0]
        self._x_axis.set_labels([display_piece(p) for p in source])
        self._y_axis.set_labels(
            [
                display_piece(x) if x == y else f"{display_piece(x)} | {display_piece(y)}"
                for x, y in zip(target_a[:rows], target_b[:rows], strict=True)
            ]
        )
        self.image.setImage(self._values, autoLevels=False, levels=(-1, 1))
        self.image.setRect(0, 0, self._values.shape[1], rows)
        self.plot.getPlotItem().getViewBox().autoRange(padding=0.0)

    def values(self) -> np.ndarray:
        """(T, S) the difference shown."""
        return self._values.copy()


class WordAttentionChart(QtWidgets.QWidget):
    """Per source word, the share of attention each model gave it (two bars a word)."""

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
            "Attention per source word (subwords added, steps averaged): model A blue, "
            "model B orange. Works when the two models cut words differently."
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.words: list[str] = []
        self.shares = np.zeros((2, 0), dtype=np.float32)

    def show_words(self, words: list[str], shares_a: np.ndarray, shares_b: np.ndarray, names):
        """words: W source words; shares_*: (W,) each model's share; names: (A's, B's)."""
        self.words = list(words)
        self.shares = np.stack([shares_a, shares_b]).astype(np.float32)
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        x = np.arange(len(words), dtype=np.float32)
        for offset, values, colour, name in (
            (0.3, shares_a, A_COLOUR, names[0]),
            (0.7, shares_b, B_COLOUR, names[1]),
        ):
            bars = pg.BarGraphItem(x=x + offset, height=values, width=0.38, brush=colour)
            item.addItem(bars)
            self.legend.addItem(bars, name)
        self._axis.set_labels(list(words))
        top = float(self.shares.max()) if self.shares.size else 1.0
        item.setRange(xRange=(0, max(len(words), 1)), yRange=(0, max(top, 1e-3) * 1.1))
