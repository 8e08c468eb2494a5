"""Image captioning attention: a grid of weights laid over the picture.

The encoder sees an image as an (h, w) grid of cells; each caption word
attends over those cells. ``QtImageAttentionOverlay`` shows one such grid
over the image (bilinear "smooth" or nearest "blocky" upsampling, opacity,
colour map) and reports which cell was clicked. ``QtAttentionStrip`` shows one
thumbnail per caption word. The rendering is plain numpy/Pillow
(``upsample_attention``, ``blend_attention``, ``render_strip``), so exports and
tests need no screen.

Grids are normalised by their maximum before colouring: a softmax over 49
cells rarely exceeds 0.2, and the eye needs the full colour range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PIL import Image, ImageDraw, ImageFont
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.style import (
    COLORMAPS,
    DEFAULT_COLORMAP,
    HIGHLIGHT_COLOUR,
    colorize,
    colormap,
    elide,
)

pg.setConfigOptions(imageAxisOrder="row-major")

_OVERLAY_MAX_SIDE = 512  # overlay resolution cap; the item is stretched over the image
_CELL_PIXELS_WITHOUT_IMAGE = 32


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    return np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)


def _linear_index(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-pixel-centred source positions: lower index, upper index, fraction."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(pos).astype(np.intp)
    return low, np.minimum(low + 1, n_in - 1), (pos - low).astype(np.float32)


def _upsample_nearest(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, cols = _nearest_index(grid.shape[0], height), _nearest_index(grid.shape[1], width)
    return grid[np.ix_(rows, cols)]


def _upsample_bilinear(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    r0, r1, rt = _linear_index(grid.shape[0], height)
    c0, c1, ct = _linear_index(grid.shape[1], width)
    by_row = grid[r0] * (1 - rt)[:, None] + grid[r1] * rt[:, None]  # (height, w)
    return by_row[:, c0] * (1 - ct) + by_row[:, c1] * ct  # (height, width)


UPSAMPLERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "smooth": _upsample_bilinear,
    "blocky": _upsample_nearest,
}


def upsample_attention(
    grid: np.ndarray, height: int, width: int, mode: str = "smooth"
) -> np.ndarray:
    """Stretch an attention grid (h, w) to (height, width) float32 ("smooth" or "blocky")."""
    if mode not in UPSAMPLERS:
        raise ValueError(
            f"unknown upsampling mode {mode!r}; choose one of: {', '.join(UPSAMPLERS)}"
        )
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"attention grid must be a non-empty (h, w) array, got shape {grid.shape}")
    return UPSAMPLERS[mode](grid, height, width).astype(np.float32)


def normalize_attention(grid: np.ndarray) -> np.ndarray:
    """(h, w) grid scaled so its maximum is 1 (all zeros stays zeros)."""
    grid = np.nan_to_num(np.asarray(grid, dtype=np.float32))
    peak = float(grid.max()) if grid.size else 0.0
    return grid / peak if peak > 0 else np.zeros_like(grid)


def blend_attention(
    rgb: np.ndarray,
    grid: np.ndarray,
    *,
    mode: str = "smooth",
    colormap_name: str = DEFAULT_COLORMAP,
    opacity: float = 0.6,
) -> np.ndarray:
    """The image (H, W, 3) uint8 with the coloured, upsampled grid blended on top -> (H, W, 3) uint8."""
    rgb = _check_rgb(rgb)
    heat = upsample_attention(normalize_attention(grid), rgb.shape[0], rgb.shape[1], mode)
    colours = colorize(heat, colormap_name).astype(np.float32)  # (H, W, 3)
    alpha = float(np.clip(opacity, 0.0, 1.0))
    return np.rint((1 - alpha) * rgb.astype(np.float32) + alpha * colours).astype(np.uint8)


def attention_thumbnail(
    grid: np.ndarray,
    image: np.ndarray | None,
    size: int,
    *,
    mode: str,
    colormap_name: str,
    opacity: float,
) -> np.ndarray:
    """One word's map as a small RGB picture (H, W, 3) uint8, longest side ``size``."""
    if image is None:
        h, w = np.asarray(grid).shape
        scale = size / max(h, w)
        heat = upsample_attention(
            normalize_attention(grid), round(h * scale), round(w * scale), mode
        )
        return colorize(heat, colormap_name)
    rgb = _check_rgb(image)
    scale = size / max(rgb.shape[:2])
    small_size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(small_size, Image.Resampling.BILINEAR))
    return blend_attention(small, grid, mode=mode, colormap_name=colormap_name, opacity=opacity)


def render_strip(
    words: Sequence[str],
    grids: Sequence[np.ndarray],
    image: np.ndarray | None = None,
    *,
    thumb_size: int = 96,
    mode: str = "smooth",
    colormap_name: str = DEFAULT_COLORMAP,
    opacity: float = 0.6,
) -> np.ndarray:
    """All words' maps side by side with each word printed below -> (H, W, 3) uint8 (for export)."""
    if len(words) != len(grids):
        raise ValueError(f"{len(words)} words but {len(grids)} attention grids")
    gap, label_height = 6, 22
    thumbs = [
        attention_thumbnail(
            g, image, thumb_size, mode=mode, colormap_name=colormap_name, opacity=opacity
        )
        for g in grids
    ]
    height = max((t.shape[0] for t in thumbs), default=thumb_size) + label_height + 2 * gap
    width = sum(t.shape[1] + gap for t in thumbs) + gap
    canvas = Image.new("RGB", (max(width, 1), height), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    x = gap
    for word, thumb in zip(words, thumbs, strict=True):
        canvas.paste(Image.fromarray(thumb), (x, gap))
        label = elide(word, max(3, thumb.shape[1] // 8))
        text_width = draw.textlength(label, font=font)
        draw.text(
            (x + (thumb.shape[1] - text_width) / 2, height - label_height - gap / 2),
            label,
            fill="black",
            font=font,
        )
        x += thumb.shape[1] + gap
    return np.asarray(canvas)


def rgb_to_qimage(rgb: np.ndarray) -> QtGui.QImage:
    """A deep-copied QImage of an (H, W, 3) uint8 array."""
    rgb = np.ascontiguousarray(_check_rgb(rgb))
    height, width = rgb.shape[:2]
    return QtGui.QImage(
        rgb.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888
    ).copy()


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {rgb.shape} dtype {rgb.dtype}")
    return rgb


class QtImageAttentionOverlay(QtWidgets.QWidget):
    """An image with one attention grid over it; ``regionClicked(gx, gy)`` = grid column, row."""

    regionClicked = QtCore.Signal(int, int)

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
        self._rgb = None if rgb is None else _check_rgb(rgb).copy()
        if self._rgb is None:
            self._image_item.clear()
        else:
            self._image_item.setImage(self._rgb, autoLevels=False, levels=(0, 255))
        self._refresh_overlay()
        self._viewbox.autoRange(padding=0.0)

    def set_attention(self, grid: np.ndarray | None) -> None:
        """The attention grid (h, w) to show, or None to hide the overlay."""
        if grid is not None:
            grid = np.asarray(grid, dtype=np.float32)
            if grid.ndim != 2 or grid.size == 0:
                raise ValueError(
                    f"attention grid must be a non-empty (h, w) array, got shape {grid.shape}"
                )
            self._grid_shape = grid.shape
        self._grid = grid
        self._refresh_overlay()

    def set_mode(self, mode: str) -> None:
        """ "smooth" (bilinear) or "blocky" (one flat square per cell)."""
        if mode not in UPSAMPLERS:
            raise ValueError(
                f"unknown upsampling mode {mode!r}; choose one of: {', '.join(UPSAMPLERS)}"
            )
        self._mode = mode
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
        self._overlay_item.setColorMap(colormap(name))
        self._cmap_name = name
        with QtCore.QSignalBlocker(self._cmap_combo):
            self._cmap_combo.setCurrentText(name)

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


class _WordThumbnail(QtWidgets.QFrame):
    """A word's attention picture with the word under it."""

    def __init__(self, index: int, word: str, owner: QtAttentionStrip, width: int) -> None:
        super().__init__()
        self.index, self._owner = index, owner
        self.setObjectName("wordThumbnail")
        self.picture = QtWidgets.QLabel()
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        caption = QtWidgets.QLabel()
        caption.setText(
            caption.fontMetrics().elidedText(word, QtCore.Qt.TextElideMode.ElideRight, width)
        )
        caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(f"{word!r} (word {index + 1}): where the model looked; click to select")
        self.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.setLineWidth(2)
        self.set_selected(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.addWidget(self.picture)
        layout.addWidget(caption)
        layout.addStretch(1)

    def set_selected(self, selected: bool) -> None:
        colour = HIGHLIGHT_COLOUR if selected else "transparent"
        self.setStyleSheet(f"QFrame#wordThumbnail {{ border: 2px solid {colour}; }}")

    def enterEvent(self, event) -> None:
        self._owner.wordHovered.emit(self.index)
        super().enterEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self._owner.select(self.index)
            self._owner.wordClicked.emit(self.index)
        super().mousePressEvent(event)


class QtAttentionStrip(QtWidgets.QWidget):
    """One thumbnail per caption word, each showing that word's attention over the image."""

    wordHovered = QtCore.Signal(int)
    wordClicked = QtCore.Signal(int)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        thumb_size: int = 96,
        colormap_name: str = DEFAULT_COLORMAP,
        mode: str = "smooth",
        opacity: float = 0.6,
    ) -> None:
        super().__init__(parent)
        self._render_options = {"mode": mode, "colormap_name": colormap_name, "opacity": opacity}
        self._thumb_size = thumb_size
        self._image: np.ndarray | None = None
        self._words: list[str] = []
        self._grids: list[np.ndarray] = []
        self._pictures: list[np.ndarray] = []
        self._thumbs: list[_WordThumbnail] = []
        self._row = QtWidgets.QHBoxLayout()
        self._row.setContentsMargins(2, 2, 2, 2)
        content = QtWidgets.QWidget()
        content.setLayout(self._row)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setToolTip("Attention of each caption word")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def set_image(self, rgb: np.ndarray | None) -> None:
        """The captioned picture (H, W, 3) uint8 the maps are drawn over (None: maps alone)."""
        self._image = None if rgb is None else _check_rgb(rgb).copy()
        self.set_words(self._words, self._grids)

    def set_words(self, words: Sequence[str], grids: Sequence[np.ndarray]) -> None:
        """One thumbnail per word; ``grids[i]`` is word i's (h, w) attention."""
        if len(words) != len(grids):
            raise ValueError(f"{len(words)} words but {len(grids)} attention grids")
        self._words, self._grids = list(words), [np.asarray(g, dtype=np.float32) for g in grids]
        for thumb in self._thumbs:
            self._row.removeWidget(thumb)
            thumb.deleteLater()
        while self._row.count():
            self._row.takeAt(0)
        self._pictures, self._thumbs = [], []
        for index, (word, grid) in enumerate(zip(self._words, self._grids, strict=True)):
            picture = attention_thumbnail(
                grid, self._image, self._thumb_size, **self._render_options
            )
            thumb = _WordThumbnail(index, word, self, max(picture.shape[1] - 8, 40))
            thumb.picture.setPixmap(QtGui.QPixmap.fromImage(rgb_to_qimage(picture)))
            self._row.addWidget(thumb)
            self._pictures.append(picture)
            self._thumbs.append(thumb)
        self._row.addStretch(1)

    def select(self, index: int | None) -> None:
        """Frame word ``index``'s thumbnail (None: none)."""
        for thumb in self._thumbs:
            thumb.set_selected(thumb.index == index)

    def thumbnail_count(self) -> int:
        return len(self._thumbs)

    def thumbnail_widget(self, index: int) -> QtWidgets.QFrame:
        return self._thumbs[index]

    def thumbnails(self) -> list[np.ndarray]:
        """The RGB picture shown for each word."""
        return [p.copy() for p in self._pictures]

    def render(self) -> np.ndarray:
        """The whole strip as one (H, W, 3) uint8 image with the words printed (for export)."""
        return render_strip(
            self._words,
            self._grids,
            self._image,
            thumb_size=self._thumb_size,
            **self._render_options,
        )
