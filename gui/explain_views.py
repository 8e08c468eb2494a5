"""Attention and attribution side by side, on the same axes: the Explain panel's two views.

``TextExplainView``: two heat maps (gui/heatmap.py, composed, not changed) with the
same target rows and source columns: the attention (every head, the heat map's own
head picker) and the attribution. An attribution cell shows that source token's
share of the step's attribution, |a_j| / sum_k |a_k|, on the attention's scale
(0..1), so the two read alike; "Signed values" shows the attributions themselves on
their own scale. Steps not explained yet are empty cells.

``ImageExplainView``: the attention overlay and the attribution overlay of one step
(gui/image_overlay.py) over the same picture, their controls (upsampling, opacity,
colours) moving together; the attribution per grid cell, or per pixel.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.heatmap import SCORES, QtAttentionHeatmap
from attnscope.gui.heatmap_controls import HeatmapControls
from attnscope.gui.image_overlay import QtImageAttentionOverlay

NO_ATTENTION_NOTE = (
    "This model has no attention: only the attribution can say which source tokens "
    "the step used (the no-attention model is the control)."
)


def attribution_shares(scores: np.ndarray) -> np.ndarray:
    """(T, S) attributions as each row's shares of its total magnitude, |a| / sum |a|
    (rows of NaN stay NaN; an all-zero row stays zero)."""
    magnitude = np.abs(np.asarray(scores, dtype=np.float32))
    totals = magnitude.sum(axis=1, keepdims=True)  # (T, 1)
    shares = np.zeros_like(magnitude)
    np.divide(magnitude, totals, out=shares, where=totals > 0)
    shares[np.isnan(totals[:, 0])] = np.nan
    return shares


def _colour_bar(heatmap: QtAttentionHeatmap) -> pg.ColorBarItem | None:
    """The heat map's colour bar (a ColorBarItem in its plot's layout), None if it has none."""
    layout = heatmap.plot_widget().getPlotItem().layout
    items = (layout.itemAt(i) for i in range(layout.count()))
    return next((item for item in items if isinstance(item, pg.ColorBarItem)), None)


def _titled(title: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    heading = QLabel(f"<b>{title}</b>")
    heading.setAlignment(Qt.AlignCenter)
    layout.addWidget(heading)
    layout.addWidget(widget, 1)
    return box


class TextExplainView(QWidget):
    """Attention (left) and attribution (right) of a translation: rows = target steps,
    columns = source tokens, in both. ``stepSelected(row)`` on a click in either."""

    stepSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attention = QtAttentionHeatmap()
        self.attribution = QtAttentionHeatmap()
        self.attribution.plot_widget().setToolTip(
            "Attribution: each cell is the source token's share of the step's attribution "
            "(|a| over the row's total); empty rows are steps not explained yet"
        )
        self._bar = _colour_bar(self.attribution)
        self.attribution.valueKindChanged.connect(self._on_value_kind_changed)
        self._on_value_kind_changed(self.attribution.value_kind())
        signed = self.attribution.findChild(HeatmapControls).scores_button
        signed.setText("Signed values")
        signed.setToolTip(
            "Show the signed attributions themselves, on their own colour scale, instead of "
            "each token's share of the step's total"
        )
        # raw attention scores are the main heat map's (View > raw scores), not this copy's
        self.attention.findChild(HeatmapControls).scores_button.hide()
        self.no_attention = QLabel(NO_ATTENTION_NOTE)
        self.no_attention.setWordWrap(True)
        self.no_attention.setAlignment(Qt.AlignCenter)
        self.no_attention.setStyleSheet("color: palette(mid); padding: 16px;")
        self.attention_pages = QStackedWidget()
        self.attention_pages.addWidget(self.attention)
        self.attention_pages.addWidget(self.no_attention)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(_titled("Attention", self.attention_pages))
        self.splitter.addWidget(_titled("Attribution", self.attribution))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        for heatmap in (self.attention, self.attribution):
            heatmap.rowSelected.connect(self.stepSelected)

    def show_matrices(
        self,
        source: list[str],
        target: list[str],
        attention: np.ndarray | None,
        scores: np.ndarray,
        selected: int | None,
        *,
        layers: int = 1,
        source_mixing: np.ndarray | None = None,
    ) -> None:
        """``attention`` (T, layers·heads, S) layer-major or None, ``scores`` (T, S) raw
        attributions (NaN rows not explained), labelled ``source`` across and ``target``
        down; the attention heat map offers its ``layers`` and, with the encoder's
        ``source_mixing`` (S, S), the rollout."""
        has_attention = attention is not None and attention.shape[1] > 0
        self.attention_pages.setCurrentWidget(
            self.attention if has_attention else self.no_attention
        )
        if has_attention:
            self.attention.set_tokens(source, target)
            self.attention.set_heads(
                np.ascontiguousarray(attention, dtype=np.float32),
                layers=layers,
                source_mixing=source_mixing,
            )
        else:
            self.attention.clear()
        self.attribution.set_tokens(source, target)
        self.attribution.set_scores(np.asarray(scores, dtype=np.float32)[:, None, :])
        self.attribution.set_matrix(attribution_shares(scores))
        if selected is not None:
            for heatmap in (self.attention, self.attribution):
                heatmap.select_row(selected)

    def clear(self) -> None:
        self.attention.clear()
        self.attribution.clear()

    def _on_value_kind_changed(self, kind: str) -> None:
        """The colour bar names what the attribution cells hold (one label: the bar's value
        axis; the heat map's own "weight" stays hidden)."""
        if self._bar is not None:
            self._bar.getAxis("left").showLabel(False)
            self._bar.axis.setLabel("attribution" if kind == SCORES else "share")


def _overlay_controls(overlay: QtImageAttentionOverlay) -> tuple[QComboBox, QSlider]:
    """An overlay's upsampling combo and opacity slider (its own controls: the two overlays
    of the panel move together; the setters they call emit nothing, so no loop)."""
    combo = next(c for c in overlay.findChildren(QComboBox) if c.findText("smooth") >= 0)
    return combo, overlay.findChild(QSlider)


class ImageExplainView(QWidget):
    """Where one caption word looked (attention) and what it used (attribution), each laid
    over the picture; one setting of upsampling, opacity and colours for both. The attribution is drawn per grid cell (the
    attention's resolution) or, with "Per pixel", per pixel of the picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attention = QtImageAttentionOverlay()
        self.attribution = QtImageAttentionOverlay()
        self.per_pixel = QCheckBox("Per pixel")
        self.per_pixel.setToolTip(
            "Draw the attribution of every pixel instead of its sum over each grid cell"
        )
        self.per_pixel.toggled.connect(self._draw_attribution)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(_titled("Attention", self.attention))
        splitter.addWidget(_titled("Attribution (magnitude)", self.attribution))
        under = QHBoxLayout()
        under.addWidget(self.note, 1)
        under.addWidget(self.per_pixel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addLayout(under)
        for one, other in ((self.attention, self.attribution), (self.attribution, self.attention)):
            one.colormapChanged.connect(other.set_colormap)
            _overlay_controls(one)[0].currentTextChanged.connect(other.set_mode)
            _overlay_controls(one)[1].valueChanged.connect(
                lambda value, other=other: other.set_opacity(value / 100.0)
            )
        self._image: np.ndarray | None = None
        self._cells: np.ndarray | None = None  # (h, w) attribution per grid cell
        self._pixels: np.ndarray | None = None  # (H, W) per pixel, when the method gives it

    def show_step(
        self,
        image: np.ndarray | None,
        attention: np.ndarray | None,
        cells: np.ndarray | None,
        pixels: np.ndarray | None = None,
        note: str = "",
    ) -> None:
        """The picture (H, W, 3) uint8, the step's attention grid (h, w) or None, and its
        attribution per grid cell (h, w) and per pixel (H, W) (None: not explained yet,
        or no pixels)."""
        if image is None or image is not self._image:  # the same picture is kept as is
            self._image = image
            self.attention.set_image(image)
            self.attribution.set_image(image)
        self.attention.set_attention(attention)
        self._cells, self._pixels = cells, pixels
        self.per_pixel.setEnabled(pixels is not None)
        self._draw_attribution()
        self.note.setText(note)

    def _draw_attribution(self) -> None:
        shown = self._pixels if self.per_pixel.isChecked() else None
        shown = self._cells if shown is None else shown
        self.attribution.set_attention(None if shown is None else np.abs(shown))

    def clear(self) -> None:
        self.show_step(None, None, None)
