"""Small multiples of multi-head attention: one little heat map per head.

The heat map's grid mode shows this widget instead of its main plot; clicking a
panel picks that head. A layered model's grid has a row per layer and a column
per head ("L1 H1" ...); a one-layer model's heads fill a square. Panels keep a
readable size (Marian base's 6 × 8 among them) and the grid scrolls when they do
not fit. All panels share one ViewBox, each an ImageItem in a unit square with a
TextItem title: 48 ViewBoxes (or PlotItems) take seconds to build. Hovering a cell
reads it out ("L2 H3 · der → the: 0.42", the main heat map's words with the panel's
layer and head) as a tooltip and through ``cellHovered``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.heatmap_layers import layer_count, panel_title
from attnscope.gui.style import DEFAULT_COLORMAP, colorize, colormap

MIN_PANEL_SIZE = (72, 72)  # px (width, height) a panel keeps, title included
# A panel is a unit square in the view; its title band above and the gap beside it, as
# fractions of it (so they keep their share of the pixels whatever T and S are).
TITLE_BAND, GAP = 0.35, 0.12
CLICK_HINT = "click to show this head alone"


class QtHeadGrid(QtWidgets.QWidget):
    """Small multiples: one little heat map per attention head.

    Emits ``headClicked(row)`` when a panel is clicked: its attention row, layer-major
    (``layer · heads + head``; the head itself for a one-layer model).
    """

    headClicked = QtCore.Signal(int)
    cellHovered = QtCore.Signal(str)  # the hovered cell in words ("" off every cell)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        colormap_name: str = DEFAULT_COLORMAP,
        hover_rate: float = 30.0,
    ) -> None:
        super().__init__(parent)
        self._cmap_name = colormap_name
        self._view = pg.GraphicsLayoutWidget()
        self._box = self._view.addViewBox(enableMouse=False, invertY=True, enableMenu=False)
        self._titles: list[pg.TextItem] = []
        self._images: list[pg.ImageItem] = []
        self._shape = (0, 0)  # (rows, columns) of panels
        self._layers = 1
        self._weights = np.zeros((0, 0, 0), dtype=np.float32)  # (T, rows, S) shown
        self._source: list[str] = []  # a label per column (S)
        self._target: list[str] = []  # a label per row (T)
        scene = self._view.scene()
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        self._hover_proxy = pg.SignalProxy(
            scene.sigMouseMoved, rateLimit=hover_rate, slot=self._on_mouse_moved
        )
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.scroll.setWidget(self._view)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        self.setToolTip("Every attention head; click one to show it alone")

    def set_heads(
        self,
        weights: np.ndarray,
        layers: int = 1,
        *,
        source: list[str] | None = None,
        target: list[str] | None = None,
    ) -> None:
        """Show ``weights`` (T, layers·heads, S), layer-major: one panel per head, a row per
        layer when ``layers`` > 1 (and divides the rows). ``source`` (S) and ``target``
        (T) label the hovered cell; ``#i`` stands in for a missing one."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 3:
            raise ValueError(f"head weights must be (T, heads, S), got shape {weights.shape}")
        layers = layer_count(weights.shape[1], layers)
        if (len(self._images), self._layers) != (weights.shape[1], layers):
            self._rebuild(weights.shape[1], layers)
        self._weights = weights
        self._source, self._target = list(source or ()), list(target or ())
        self._paint()

    def set_colormap(self, name: str) -> None:
        colormap(name)  # checks the name
        self._cmap_name = name
        self._paint()

    def images(self) -> list[np.ndarray]:
        """The (T, S) weights each panel shows, in head order."""
        return [self._weights[:, head] for head in range(len(self._images))]

    def _paint(self) -> None:
        """Every panel's weights in colour, coloured here at once: 48 float images coloured
        each by its ImageItem took three times as long to paint."""
        rgb = colorize(self._weights, self._cmap_name)  # (T, rows, S, 3) uint8
        for head, image in enumerate(self._images):
            image.setImage(np.ascontiguousarray(rgb[:, head]), levels=None)
            image.setRect(self._unit_rect(head))  # setImage sized it to (S, T) cells

    def shape(self) -> tuple[int, int]:
        """(rows, columns) of panels: (layers, heads) for a layered model."""
        return self._shape

    def titles(self) -> list[str]:
        return [title.toPlainText() for title in self._titles]

    def panel_rect(self, row: int) -> QtCore.QRectF:
        """Where the panel of attention row ``row`` is, in scene coordinates."""
        return self._box.mapViewToScene(self._unit_rect(row)).boundingRect()

    def head_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """The attention row of the panel under ``scene_pos`` (its title included)."""
        if not self._images or not self._box.sceneBoundingRect().contains(scene_pos):
            return None
        point = self._box.mapSceneToView(scene_pos)
        col, x = divmod(point.x() + GAP / 2, 1 + GAP)
        row, y = divmod(point.y() + TITLE_BAND, 1 + TITLE_BAND + GAP)
        index = int(row) * self._shape[1] + int(col)
        inside = x >= GAP / 2 and y < 1 + TITLE_BAND and 0 <= col < self._shape[1]
        return index if inside and row >= 0 and index < len(self._images) else None

    def cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int, int] | None:
        """(attention row, target row, source column) of the cell under ``scene_pos``; None
        off every panel's image (a title, a gap)."""
        head = self.head_at(scene_pos)
        if head is None:
            return None
        rect, point = self._unit_rect(head), self._box.mapSceneToView(scene_pos)
        rows, columns = self._weights.shape[0], self._weights.shape[2]
        row = math.floor((point.y() - rect.top()) * rows)
        col = math.floor((point.x() - rect.left()) * columns)
        return (head, row, col) if 0 <= row < rows and 0 <= col < columns else None

    def describe_cell(self, head: int, row: int, col: int) -> str:
        """'L2 H3 · source → target: weight' for one cell of panel ``head``."""
        source = self._source[col] if col < len(self._source) else f"#{col}"
        target = self._target[row] if row < len(self._target) else f"#{row}"
        title = self._titles[head].toPlainText()
        return f"{title} · {source} → {target}: {self._weights[row, head, col]:.2f}"

    def export_target(self) -> QtWidgets.QGraphicsItem:
        return self._view.ci

    def _unit_rect(self, index: int) -> QtCore.QRectF:
        """Panel ``index``'s unit square in view coordinates (row-major over the grid)."""
        row, col = divmod(index, self._shape[1])
        return QtCore.QRectF(col * (1 + GAP), row * (1 + TITLE_BAND + GAP), 1.0, 1.0)

    def _rebuild(self, rows: int, layers: int) -> None:
        """``rows`` panels: a row per layer, or a square for one layer."""
        self._box.clear()
        self._titles, self._images = [], []
        self._layers = layers
        heads = rows // layers
        columns = heads if layers > 1 else max(1, math.ceil(math.sqrt(rows)))
        self._shape = (math.ceil(rows / columns), columns)
        width, height = MIN_PANEL_SIZE
        self._view.setMinimumSize(columns * width, self._shape[0] * height)
        font = QtGui.QFont()
        font.setPointSize(8)
        for index in range(rows):
            rect = self._unit_rect(index)
            image = pg.ImageItem(axisOrder="row-major")
            title = pg.TextItem(panel_title(index, layers, heads), anchor=(0, 1))
            title.setFont(font)
            title.setPos(rect.left(), rect.top())
            image.setToolTip(f"{title.toPlainText()}\n{CLICK_HINT}")
            for item in (image, title):
                self._box.addItem(item)
            self._images.append(image)
            self._titles.append(title)
        bottom = self._shape[0] * (1 + TITLE_BAND + GAP) - GAP
        self._box.setRange(
            xRange=(-GAP / 2, columns * (1 + GAP) - GAP / 2),
            yRange=(-TITLE_BAND, bottom),
            padding=0.0,
        )

    def _on_mouse_moved(self, args: tuple) -> None:
        cell = self.cell_at(args[0])
        text = "" if cell is None else self.describe_cell(*cell)
        if text:  # the panel's own tooltip follows, so a resting mouse keeps the readout
            tip = f"{text}\n{CLICK_HINT}"
            self._images[cell[0]].setToolTip(tip)
            QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), tip, self._view)
        self.cellHovered.emit(text)

    def _on_mouse_clicked(self, event) -> None:
        head = self.head_at(event.scenePos())
        if head is not None:
            self.headClicked.emit(head)
