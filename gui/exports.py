"""Writing figures and data out: heat map PNG/SVG, matrix CSV/.npy, decode JSON, RGB PNG.

Every writer goes through a temporary file in the destination folder and an
atomic rename, so an interrupted or failed export never leaves a
half-written file behind (and never clobbers the previous one). Bad inputs
raise ValueError naming what was wrong; I/O problems surface as OSError.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

# pyqtgraph.exporters, QtSvg and PIL are imported by the exports that use them: the window
# is built (and shows) before any export is asked for.

logger = logging.getLogger(__name__)

_DEFAULT_PNG_SCALE = 2  # export at twice the on-screen size unless a width is given


def _file_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give (mkstemp makes files 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent or "."
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        os.chmod(temp, _FILE_MODE)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    logger.info("wrote %s", target)


def _export_item(source: Any) -> QtWidgets.QGraphicsItem:
    """The graphics item to render for a heat map widget, plot widget, layout or item."""
    if hasattr(source, "export_target"):
        item = source.export_target()
    elif isinstance(source, pg.PlotWidget):
        item = source.getPlotItem()
    elif isinstance(source, pg.GraphicsLayoutWidget):
        item = source.ci
    elif isinstance(source, QtWidgets.QGraphicsItem):
        item = source
    else:
        raise TypeError(
            f"cannot export a {type(source).__name__}; pass a heat map, plot widget or item"
        )
    if item.sceneBoundingRect().isEmpty():
        raise ValueError("the figure has no size yet; show it on screen before exporting")
    return item


def export_heatmap_png(source: Any, path: str | os.PathLike, *, width: int | None = None) -> Path:
    """Render a heat map (or any pyqtgraph widget/item) to PNG, ``width`` pixels wide
    (default: twice its on-screen width)."""
    import pyqtgraph.exporters

    item = _export_item(source)
    exporter = pyqtgraph.exporters.ImageExporter(item)
    on_screen = int(item.sceneBoundingRect().width())
    exporter.parameters()["width"] = int(width or max(1, on_screen * _DEFAULT_PNG_SCALE))
    with _atomic_path(path) as temp:
        exporter.export(str(temp))
    return Path(path)


def _screen_dpi() -> int:
    """Logical DPI of the screen, so the SVG's embedded images match its vector parts."""
    screen = QtGui.QGuiApplication.primaryScreen()
    return round(screen.logicalDotsPerInch()) if screen is not None else 96


def export_heatmap_svg(source: Any, path: str | os.PathLike) -> Path:
    """Render a heat map (or any pyqtgraph widget/item) to SVG: text and outlines as vectors,
    the matrix as an embedded image.

    Drawn with Qt's own QSvgGenerator: pyqtgraph's SVGExporter cannot parse the
    path syntax that current Qt writes (pyqtgraph issue #3485).
    """
    from PySide6 import QtSvg

    item = _export_item(source)
    region = item.sceneBoundingRect()
    scene = item.scene()
    views = scene.views()
    page = QtCore.QRectF(0, 0, region.width(), region.height())
    with _atomic_path(path) as temp:
        generator = QtSvg.QSvgGenerator()
        generator.setFileName(str(temp))
        generator.setSize(page.size().toSize())
        generator.setViewBox(page)
        generator.setTitle("AttnScope attention")
        generator.setResolution(_screen_dpi())
        painter = QtGui.QPainter(generator)
        try:
            if views:  # pyqtgraph paints the background on the view, not the scene
                painter.fillRect(page, views[0].backgroundBrush())
            scene.render(painter, page, region)
        finally:
            painter.end()
    return Path(path)


def export_matrix_csv(
    matrix: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    path: str | os.PathLike,
) -> Path:
    """Write a (T, S) matrix as CSV: header = "" + source tokens, first column = target tokens."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be (T, S), got shape {matrix.shape}")
    if (len(tgt_tokens), len(src_tokens)) != matrix.shape:
        raise ValueError(
            f"matrix is {matrix.shape} but there are {len(tgt_tokens)} target and "
            f"{len(src_tokens)} source tokens"
        )
    with _atomic_path(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *src_tokens])
        for token, row in zip(tgt_tokens, matrix, strict=True):
            writer.writerow([token, *(format(float(v), ".9g") for v in row)])
    return Path(path)


def export_matrix_npy(matrix: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an array of any shape (e.g. (T, S) or (T, heads, S)) as .npy (no pickling)."""
    matrix = np.asarray(matrix)
    if matrix.dtype == object:
        raise ValueError("cannot save an object array as .npy without pickling")
    with _atomic_path(path) as temp, open(temp, "wb") as handle:
        np.save(handle, matrix, allow_pickle=False)
    return Path(path)


def export_decode_json(payload: dict, path: str | os.PathLike) -> Path:
    """Write a decode as UTF-8 JSON: a decode record (engine/decode_record.py builds it) or
    any payload ``to_jsonable`` takes (numpy arrays, dataclasses...; NaN/inf -> null)."""
    from attnscope.engine.decode_record import to_jsonable  # loads torch: not at start-up

    document = to_jsonable(payload)  # converted first: a bad value leaves no file at all
    with _atomic_path(path) as temp, open(temp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1, allow_nan=False)
        handle.write("\n")
    return Path(path)


def export_rgb_png(rgb: np.ndarray, path: str | os.PathLike) -> Path:
    """Write an (H, W, 3) or (H, W, 4) uint8 image (e.g. a rendered attention strip) as PNG."""
    from PIL import Image

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(
            f"image must be (H, W, 3|4) uint8, got shape {rgb.shape} dtype {rgb.dtype}"
        )
    with _atomic_path(path) as temp:
        Image.fromarray(np.ascontiguousarray(rgb)).save(temp, format="PNG")
    return Path(path)


def _widget_size(widget: QtWidgets.QWidget) -> QtCore.QSize:
    size = widget.size()
    if not widget.isVisible() or size.isEmpty():
        raise ValueError("the figure is not on screen; show it before exporting")
    return size


def export_widget_png(
    widget: QtWidgets.QWidget, path: str | os.PathLike, *, scale: int = _DEFAULT_PNG_SCALE
) -> Path:
    """Render a whole widget (e.g. two heat maps side by side) to PNG, ``scale`` times its
    on-screen size."""
    size = _widget_size(widget)
    image = QtGui.QImage(size * scale, QtGui.QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(widget.palette().window().color())
    painter = QtGui.QPainter(image)
    try:
        widget.render(painter, QtCore.QPoint())
    finally:
        painter.end()
    with _atomic_path(path) as temp:
        if not image.save(str(temp), "PNG"):
            raise OSError(f"could not write {Path(path).name}")
    return Path(path)


def export_widget_svg(widget: QtWidgets.QWidget, path: str | os.PathLike) -> Path:
    """Render a whole widget to SVG with Qt's QSvgGenerator (text and outlines as vectors,
    the matrices as embedded images)."""
    from PySide6 import QtSvg

    size = _widget_size(widget)
    with _atomic_path(path) as temp:
        generator = QtSvg.QSvgGenerator()
        generator.setFileName(str(temp))
        generator.setSize(size)
        generator.setViewBox(QtCore.QRect(QtCore.QPoint(0, 0), size))
        generator.setTitle("AttnScope attention and attribution")
        generator.setResolution(_screen_dpi())
        painter = QtGui.QPainter(generator)
        try:
            widget.render(painter, QtCore.QPoint())
        finally:
            painter.end()
    return Path(path)
