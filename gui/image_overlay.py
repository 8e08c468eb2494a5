"""Image captioning attention: one word's grid of weights laid over the picture.

``QtImageAttentionOverlay`` shows an (h, w) attention grid over the image
(bilinear "smooth" or nearest "blocky" upsampling, opacity, colour map),
reports which cell was clicked and announces colour-map changes so companion
views (the word strip) can follow. The drawing itself is plain numpy in
``attnscope.gui.attention_render``; the per-word strip is
``attnscope.gui.attention_strip``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.attention_render import (
    UPSAMPLERS,
    blend_attention,
    check_grid,
    check_mode,
    check_rgb,
    normalize_attention,
    upsample_attention,
)
from attnscope.gui.style import COLORMAPS, DEFAULT_COLORMAP, HIGHLIGHT_COLOUR, colormap

_OVERLAY_MAX_SIDE = 512  # overlay resolution cap; the item is stretched over the image
_CELL_PIXELS_WITHOUT_IMAGE = 32


class QtImageAttentionOverlay(QtWidgets.QWidget):
    """An image with one attention grid over it.

    Signals: ``regionClicked(gx, gy)`` (grid column, row of a click) and
    ``colormapChanged(name)`` (the colour map was changed, by the user or a setter).
    """

    regionClicked = QtCore.Signal(int, int)
    colormapChanged = QtCore.Signal(str)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        colormap_name: str = DEFAULT_COLORMAP,
        mode: str = "smooth",
        opacity: float = 0.6,
    ) -> None:
        super().__init__(parent)
        self._rgb: np.ndarray | None = None
        self._grid: np.ndarray | None = None
        self._grid_shape: tuple[int, int] | None = None
        self._overlay: np.ndarray | None = None
        self._mode, self._opacity, self._cmap_name = mode, opacity, colormap_name
        self._build_view()
        self._build_controls()
        self.set_mode(mode)
        self.set_colormap(colormap_name)
        self.set_opacity(opacity)

    # ---------------------------------------------------------------- setters
    def set_image(self, rgb: np.ndarray | None) -> None:
        """The picture (H, W, 3) uint8, or None for none."""
        self._rgb = None if rgb is None else check_rgb(rgb).copy()
        if self._rgb is None:
            self._image_item.clear()
        else:
            self._image_item.setImage(self._rgb, autoLevels=False, levels=(0, 255))
        self._refresh_overlay()
        self._viewbox.autoRange(padding=0.0)

    def set_attention(self, grid: np.ndarray | None) -> None:
        """The attention grid (h, w) to show, or None to hide the overlay."""
        if grid is not None:
            grid = check_grid(grid)
            self._grid_shape = grid.shape
        self._grid = grid
        self._refresh_overlay()

    def set_mode(self, mode: str) -> None:
        """ "smooth" (bilinear) or "blocky" (one flat square per cell)."""
        self._mode = check_mode(mode)
        with QtCore.QSignalBlocker(self._mode_combo):
            self._mode_combo.setCurrentText(mode)
        self._refresh_overlay()

    def set_opacity(self, opacity: float) -> None:
        """Overlay opacity in [0, 1]."""
        self._opacity = float(np.clip(opacity, 0.0, 1.0))
        self._overlay_item.setOpacity(self._opacity)
        with QtCore.QSignalBlocker(self._opacity_slider):
            self._opacity_slider.setValue(round(self._opacity * 100))

    def set_colormap(self, name: str) -> None:
        """Colour map by name (see ``attnscope.gui.style.COLORMAPS``); emits ``colormapChanged``."""
        self._overlay_item.setColorMap(colormap(name))
        changed, self._cmap_name = name != self._cmap_name, name
        with QtCore.QSignalBlocker(self._cmap_combo):
            self._cmap_combo.setCurrentText(name)
        if changed:
            self.colormapChanged.emit(name)

    def highlight_cell(self, gx: int | None, gy: int | None = None) -> None:
        """Outline grid cell (column ``gx``, row ``gy``); None hides the outline."""
        if gx is None or gy is None or self._grid_shape is None:
            self._cell_box.hide()
            return
        height, width = self.canvas_size()
        h, w = self._grid_shape
        self._cell_box.setRect(
            QtCore.QRectF(gx * width / w, gy * height / h, width / w, height / h)
        )
        self._cell_box.show()

    # ---------------------------------------------------------------- getters
    def mode(self) -> str:
        return self._mode

    def opacity(self) -> float:
        return self._opacity

    def colormap_name(self) -> str:
        return self._cmap_name

    def overlay_array(self) -> np.ndarray | None:
        """The normalised, upsampled grid currently drawn (display resolution), or None."""
        return None if self._overlay is None else self._overlay.copy()

    def canvas_size(self) -> tuple[int, int]:
        """(height, width) of the drawing in scene units: the image's, else the grid's at 32 px a cell."""
        if self._rgb is not None:
            return self._rgb.shape[0], self._rgb.shape[1]
        h, w = self._grid_shape or (7, 7)
        return h * _CELL_PIXELS_WITHOUT_IMAGE, w * _CELL_PIXELS_WITHOUT_IMAGE

    def render(self) -> np.ndarray | None:
        """Full-resolution composite (H, W, 3) uint8 for export (None without an image)."""
        if self._rgb is None:
            return None
        if self._grid is None:
            return self._rgb.copy()
        return blend_attention(
            self._rgb,
            self._grid,
            mode=self._mode,
            colormap_name=self._cmap_name,
            opacity=self._opacity,
        )

    def cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """(gx, gy) grid cell under a scene position, or None."""
        if self._grid_shape is None or not self._viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        point = self._viewbox.mapSceneToView(scene_pos)
        height, width = self.canvas_size()
        h, w = self._grid_shape
        gx, gy = math.floor(point.x() * w / width), math.floor(point.y() * h / height)
        return (gx, gy) if 0 <= gx < w and 0 <= gy < h else None

    def scene_pos_of_cell(self, gx: int, gy: int) -> QtCore.QPointF:
        height, width = self.canvas_size()
        h, w = self._grid_shape or (1, 1)
        return self._viewbox.mapViewToScene(
            QtCore.QPointF((gx + 0.5) * width / w, (gy + 0.5) * height / h)
        )

    def graphics_view(self) -> pg.GraphicsLayoutWidget:
        return self._view

    def view_box(self) -> pg.ViewBox:
        """The view box in picture pixel coordinates (x right, y down): where layers go."""
        return self._viewbox

    def picture_pos(self, scene_pos: QtCore.QPointF) -> tuple[float, float]:
        """(x, y) in picture pixels under a scene position (may lie outside the picture)."""
        point = self._viewbox.mapSceneToView(scene_pos)
        return point.x(), point.y()

    def export_target(self) -> QtWidgets.QGraphicsItem:
        return self._viewbox

    # --------------------------------------------------------------- building
    def _build_view(self) -> None:
        self._view = pg.GraphicsLayoutWidget()
        self._view.setToolTip(
            "Attention over the image; click a region to see which words looked there"
        )
        self._viewbox = self._view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self._viewbox.setDefaultPadding(0.0)
        self._image_item = pg.ImageItem(axisOrder="row-major")
        self._overlay_item = pg.ImageItem(axisOrder="row-major")
        self._overlay_item.setZValue(1)
        self._viewbox.addItem(self._image_item)
        self._viewbox.addItem(self._overlay_item)
        self._cell_box = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(HIGHLIGHT_COLOUR), 2)
        pen.setCosmetic(True)
        self._cell_box.setPen(pen)
        self._cell_box.setZValue(2)
        self._cell_box.hide()
        self._viewbox.addItem(self._cell_box, ignoreBounds=True)
        self._view.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _build_controls(self) -> None:
        self._mode_combo = QtWidgets.QComboBox()
        self._mode_combo.addItems(list(UPSAMPLERS))
        self._mode_combo.setToolTip(
            "smooth: bilinear between cells; blocky: one flat square per cell"
        )
        self._mode_combo.currentTextChanged.connect(self._on_mode_changed)
        self._opacity_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self._opacity_slider.setRange(0, 100)
        self._opacity_slider.setToolTip("Opacity of the attention overlay")
        self._opacity_slider.valueChanged.connect(self._on_opacity_changed)
        self._cmap_combo = QtWidgets.QComboBox()
        self._cmap_combo.addItems(list(COLORMAPS))
        self._cmap_combo.setToolTip("Colour map of the attention overlay")
        self._cmap_combo.currentTextChanged.connect(self._on_colormap_changed)
        bar = QtWidgets.QHBoxLayout()
        for text, widget in (("Upsampling:", self._mode_combo), ("Opacity:", self._opacity_slider)):
            bar.addWidget(QtWidgets.QLabel(text))
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(QtWidgets.QLabel("Colours:"))
        bar.addWidget(self._cmap_combo)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self._view, 1)

    def _refresh_overlay(self) -> None:
        if self._grid is None:
            self._overlay = None
            self._overlay_item.clear()
            self._overlay_item.hide()
            return
        height, width = self.canvas_size()
        scale = min(1.0, _OVERLAY_MAX_SIDE / max(height, width))
        size = max(1, round(height * scale)), max(1, round(width * scale))
        self._overlay = upsample_attention(normalize_attention(self._grid), *size, self._mode)
        self._overlay_item.setImage(self._overlay, autoLevels=False, levels=(0, 1))
        self._overlay_item.setRect(QtCore.QRectF(0, 0, width, height))
        self._overlay_item.show()
        if self._rgb is None:
            self._viewbox.autoRange(padding=0.0)

    # --------------------------------------------------------------- handlers
    def _on_mouse_clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.highlight_cell(*cell)
            self.regionClicked.emit(*cell)

    def _on_mode_changed(self, mode: str) -> None:
        self.set_mode(mode)

    def _on_opacity_changed(self, value: int) -> None:
        self.set_opacity(value / 100.0)

    def _on_colormap_changed(self, name: str) -> None:
        self.set_colormap(name)
