"""Small multiples of multi-head attention: one little heat map per head.

The heat map's "all heads (grid)" mode shows this widget instead of its main
plot; clicking a panel picks that head.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from attnscope.gui.style import DEFAULT_COLORMAP, colormap


class QtHeadGrid(QtWidgets.QWidget):
    """Small multiples: one little heat map per attention head.

    Emits ``headClicked(head)`` when a panel is clicked.
    """

    headClicked = QtCore.Signal(int)

    def __init__(
        self, parent: QtWidgets.QWidget | None = None, *, colormap_name: str = DEFAULT_COLORMAP
    ) -> None:
        super().__init__(parent)
        self._cmap_name = colormap_name
        self._view = pg.GraphicsLayoutWidget()
        self._plots: list[pg.PlotItem] = []
        self._images: list[pg.ImageItem] = []
        self._view.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._view)
        self.setToolTip("Every attention head; click one to show it alone")

    def set_heads(self, weights: np.ndarray) -> None:
        """Show ``weights`` (T, heads, S), one panel per head."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 3:
            raise ValueError(f"head weights must be (T, heads, S), got shape {weights.shape}")
        if len(self._images) != weights.shape[1]:
            self._rebuild(weights.shape[1])
        for head, image in enumerate(self._images):
            image.setImage(
                np.ascontiguousarray(weights[:, head, :]), autoLevels=False, levels=(0, 1)
            )

    def set_colormap(self, name: str) -> None:
        cmap = colormap(name)
        self._cmap_name = name
        for image in self._images:
            image.setColorMap(cmap)

    def images(self) -> list[np.ndarray]:
        """The (T, S) array each panel shows, in head order."""
        return [image.image for image in self._images]

    def head_at(self, scene_pos: QtCore.QPointF) -> int | None:
        for head, plot in enumerate(self._plots):
            if plot.sceneBoundingRect().contains(scene_pos):
                return head
        return None

    def export_target(self) -> QtWidgets.QGraphicsItem:
        return self._view.ci

    def _rebuild(self, heads: int) -> None:
        self._view.clear()
        self._plots, self._images = [], []
        columns = max(1, math.ceil(math.sqrt(heads)))
        cmap = colormap(self._cmap_name)
        for head in range(heads):
            plot = self._view.addPlot(
                row=head // columns, col=head % columns, title=f"head {head + 1}"
            )
            plot.hideAxis("left")
            plot.hideAxis("bottom")
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.getViewBox().invertY(True)
            plot.getViewBox().setDefaultPadding(0.0)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(cmap)
            plot.addItem(image)
            self._plots.append(plot)
            self._images.append(image)

    def _on_mouse_clicked(self, event) -> None:
        head = self.head_at(event.scenePos())
        if head is not None:
            self.headClicked.emit(head)
