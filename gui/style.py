"""Colour maps, colours and fonts shared by the attention views.

Every view picks its colour map by name from one registry, so a menu, a
setting and an export all speak the same names. ``colorize`` turns weights
into RGB without Qt, which is what thumbnails and exports need.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui

pg.setConfigOptions(imageAxisOrder="row-major")

# User-facing name -> pyqtgraph bundled map. "grey" is a perceptually linear
# black-to-white ramp (CET-L1), better than a naive RGB ramp.
COLORMAPS: dict[str, str] = {
    "viridis": "viridis",
    "magma": "magma",
    "inferno": "inferno",
    "cividis": "cividis",
    "grey": "CET-L1",
}
DEFAULT_COLORMAP = "viridis"

# Outline drawn around a highlighted row/column/cell: bright on every map above.
HIGHLIGHT_COLOUR = "#ff4081"
SELECTION_COLOUR = "#2979ff"


def colormap(name: str) -> pg.ColorMap:
    """The pyqtgraph colour map registered under ``name``.

    Raises ValueError naming the valid choices for an unknown name.
    """
    try:
        return pg.colormap.get(COLORMAPS[name])
    except KeyError:
        valid = ", ".join(COLORMAPS)
        raise ValueError(f"unknown colour map {name!r}; choose one of: {valid}") from None


def colorize(values: np.ndarray, name: str = DEFAULT_COLORMAP) -> np.ndarray:
    """Map values in [0, 1] to colours.

    values: (...) float, clipped to [0, 1]; NaN is drawn as 0.
    returns: (..., 3) uint8 RGB.
    """
    lut = colormap(name).getLookupTable(0.0, 1.0, 256, alpha=False)  # (256, 3) uint8
    clean = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    index = np.clip(np.rint(clean * 255.0), 0, 255).astype(np.intp)
    return lut[index]


def label_font(point_size: float | None = None, *, bold: bool = False) -> QtGui.QFont:
    """The application font, optionally resized/bolded, for token labels."""
    font = QtGui.QFont(QtGui.QGuiApplication.font())
    if point_size is not None:
        font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


def elide(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters with an ellipsis if longer."""
    if len(text) <= max_chars:
        return text
    return text[: max(1, max_chars - 1)] + "…"
