"""Attention heat map: target steps down, source tokens across.

The view is pyqtgraph's matrix-display recipe: one row-major float32
``ImageItem`` drawn with fixed levels (0, 1), a ``ColorBarItem`` and
category tick labels, built once (``HeatmapPlot``, ``attnscope.gui.heatmap_plot``).
Its data is a ``HeatmapData`` (``attnscope.gui.heatmap_data``), a (T, heads, S)
buffer, so live stepping (``append_row``) only writes one row and re-uploads the
image. Cells keep room for their labels, scrolling when they do not fit
(``attnscope.gui.heatmap_scroll``).

Head modes: a head index shows that head, ``"mean"`` averages the heads and
``"grid"`` shows every head as a small multiple (``QtHeadGrid``, in
``attnscope.gui.head_grid``). A layered model's heads are layer-major
(``set_heads(..., layers=L)``): a layer mode picks one layer or the mean of all,
and rollout traces the attention through the encoder's self-attention
(``attnscope.gui.heatmap_layers``). The token labels are ``TokenAxis``
(``attnscope.gui.token_axis``).
"""

from __future__ import annotations

import logging

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.head_grid import QtHeadGrid
from attnscope.gui.heatmap_controls import HEAD_GRID, HEAD_MEAN, LAYER_MEAN, HeatmapControls
from attnscope.gui.heatmap_data import SCORES, WEIGHTS, HeatmapData
from attnscope.gui.heatmap_items import CoverageBar, score_levels
from attnscope.gui.heatmap_layers import LayerHeadChoice
from attnscope.gui.heatmap_modes import HeatmapModes
from attnscope.gui.heatmap_plot import HeatmapPlot
from attnscope.gui.style import DEFAULT_COLORMAP, colormap

logger = logging.getLogger(__name__)

__all__ = ["HEAD_GRID", "HEAD_MEAN", "LAYER_MEAN", "SCORES", "WEIGHTS", "QtAttentionHeatmap"]


class QtAttentionHeatmap(HeatmapModes, QtWidgets.QWidget):
    """Attention weights of a decode: row i = target step i, column j = source position j.

    Signals: ``cellHovered(row, col, weight)`` (rate limited),
    ``cellClicked(row, col)`` and ``rowSelected(row)`` (click, Up/Down keys),
    ``cellMenuRequested(row, col, global_pos)`` (right click on a cell).

    Under the source axis a coverage bar (``coverage()``) shows each source token's
    attention summed up to the selected row; ``set_value_kind(SCORES)`` shows the raw
    scores given by ``set_scores`` instead of the weights; ``mark_row`` outlines a row.
    Up to 50 source tokens (target rows) each keep a labelled column (row): scroll bars
    appear when they do not fit.
    """

    cellHovered = QtCore.Signal(int, int, float)
    cellClicked = QtCore.Signal(int, int)
    rowSelected = QtCore.Signal(int)
    cellMenuRequested = QtCore.Signal(int, int, QtCore.QPoint)
    valueKindChanged = QtCore.Signal(str)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        colormap_name: str = DEFAULT_COLORMAP,
        hover_rate: float = 30.0,
    ) -> None:
        super().__init__(parent)
        colormap(colormap_name)  # validates the name early
        self._cmap_name = colormap_name
        self._data = HeatmapData()
        self._shown = np.zeros((0, 0), dtype=np.float32)  # (T, S) what the image shows
        self._choice = LayerHeadChoice()  # the layer and head shown
        self._rollout = False  # rolled out through the encoder (when it can be)
        self._highlight: tuple[int | None, int | None] = (None, None)
        self._value_kind = WEIGHTS
        self._build_plot(hover_rate)
        self._grid = QtHeadGrid(colormap_name=colormap_name)
        self._grid.headClicked.connect(self._on_grid_head_clicked)
        self._build_layout()
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

    # ----------------------------------------------------------------- data
    def set_tokens(self, source: list[str], target: list[str]) -> None:
        """Axis labels: ``source`` across the top, ``target`` down the left."""
        self._data.source, self._data.target = list(source), list(target)
        self._update_labels()

    def set_matrix(self, weights: np.ndarray) -> None:
        """Show one (T, S) attention matrix (a single head)."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError(f"attention matrix must be (T, S), got shape {weights.shape}")
        self.set_heads(weights[:, None, :])

    def set_heads(
        self,
        weights: np.ndarray,
        *,
        layers: int = 1,
        source_mixing: np.ndarray | None = None,
    ) -> None:
        """Show multi-head attention ``weights`` (T, layers·heads, S), layer-major, with the
        encoder's rollout ``source_mixing`` (S, S) when it has one (a SessionSnapshot's
        ``num_layers`` and ``source_mixing``)."""
        self._data.set_heads(weights, layers, source_mixing)
        self._sync_controls()
        self._update_labels()
        self._refresh()

    def append_row(self, row: np.ndarray, target_token: str) -> None:
        """Add the attention of one new decode step: ``row`` (S,) or (heads, S)."""
        heads = self._data.head_count()
        self._data.append_row(row, target_token)
        if self._data.head_count() != heads:
            self._sync_controls()
        self._update_labels()
        self._refresh()
        self._parts.y_scroll.show_cell(self._data.rows - 1)  # the newest row stays in view

    def clear(self) -> None:
        """Drop the data and tokens."""
        self._data.clear()
        self._highlight = (None, None)
        self._mark.set_row(None)
        self._sync_controls()
        self._update_labels()
        self._refresh()

    def matrix(self) -> np.ndarray:
        """(T, S) copy of what the main heat map shows (the layer's mean of heads in grid
        mode)."""
        return self._shown.copy()

    def heads(self) -> np.ndarray:
        """(T, layers·heads, S) copy of all the data held."""
        return self._data.heads().copy()

    def layers(self) -> int:
        """Layers the heads held stack (1 for a one-layer model)."""
        return self._data.layer_count()

    def source_tokens(self) -> list[str]:
        return list(self._data.source)

    def target_tokens(self) -> list[str]:
        return list(self._data.target[: self._data.rows])

    # ----------------------------------------------------------- appearance
    def set_colormap(self, name: str) -> None:
        """Colour map by name (see ``attnscope.gui.style.COLORMAPS``)."""
        cmap = colormap(name)
        self._cmap_name = name
        self._bar.setColorMap(cmap)
        self._parts.image.setColorMap(cmap)
        self._grid.set_colormap(name)
        self._controls.show_colormap(name)

    def colormap_name(self) -> str:
        return self._cmap_name

    def highlight(self, row: int | None = None, col: int | None = None) -> None:
        """Outline target row ``row`` and/or source column ``col`` (None hides it), scrolled
        into view."""
        self._highlight = (row, col)
        self._update_boxes()
        if row is not None and 0 <= row < self._data.rows:
            self._parts.y_scroll.show_cell(row)
        if col is not None and 0 <= col < self._shown.shape[1]:
            self._parts.x_scroll.show_cell(col)

    def select_row(self, row: int) -> None:
        """Highlight target row ``row`` (clamped) as the selected step; emits nothing.

        Only the user's own clicks and Up/Down keys emit ``rowSelected``, so a
        window can call this from its ``rowSelected`` handler without looping.
        """
        if self._data.rows:
            self.highlight(row=min(max(row, 0), self._data.rows - 1))

    def selected_row(self) -> int | None:
        return self._highlight[0]

    def coverage(self) -> np.ndarray:
        """(S,) the coverage bar's values: attention summed up to the selected row."""
        return self._coverage.values()

    def coverage_bar(self) -> CoverageBar:
        return self._coverage

    def mark_row(self, row: int | None, tip: str = "") -> None:
        """Outline target row ``row`` in the breakpoint colour (None removes the mark)."""
        self._mark.set_row(row, tip)
        self._update_boxes()

    def marked_row(self) -> int | None:
        return self._mark.row

    # --------------------------------------------------------- raw scores
    def set_scores(self, scores: np.ndarray | None) -> None:
        """The raw pre-softmax scores of the shown rows: (T', heads, S), None to forget."""
        self._data.set_scores(scores)
        if self._value_kind == SCORES:
            self._refresh()

    def set_value_kind(self, kind: str) -> None:
        """Show attention ``WEIGHTS`` (levels 0..1) or raw ``SCORES`` (their own range)."""
        if kind not in (WEIGHTS, SCORES):
            raise ValueError(f"unknown value kind {kind!r}; use {WEIGHTS!r} or {SCORES!r}")
        if kind != self._value_kind:
            self._value_kind = kind
            if kind == SCORES and self._rollout:  # rollout composes weights only
                self._rollout = False
                self._sync_controls()
            self._bar.axis.setLabel("score" if kind == SCORES else "weight")
            self._controls.show_scores(kind == SCORES)
            self._refresh()
            self.valueKindChanged.emit(kind)

    def value_kind(self) -> str:
        return self._value_kind

    def levels(self) -> tuple[float, float]:
        """The value range the colours span: (0, 1) for weights, the scores' own range."""
        return tuple(float(v) for v in self._bar.levels())

    # -------------------------------------------------------- mapping/export
    def cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """(row, col) under a scene position, or None outside the matrix."""
        if self._data.rows == 0:
            return None
        return self._parts.cell_at(scene_pos, self._shown.shape)

    def scene_pos_of_cell(self, row: int, col: int) -> QtCore.QPointF:
        """Scene position of the centre of cell (row, col)."""
        return self._parts.scene_pos_of_cell(row, col)

    def describe_cell(self, row: int, col: int) -> str:
        """'source → target: weight' text for a cell."""
        source, target = self._data.labels()
        source = source[col] if col < len(source) else f"#{col}"
        target = target[row] if row < len(target) else f"#{row}"
        value = self._shown[row, col]
        if self._value_kind == SCORES:
            return f"{source} → {target}: score {value:.3g}"
        return f"{source} → {target}: {value:.2f}"

    def scroll_bars(self) -> tuple[QtWidgets.QScrollBar, QtWidgets.QScrollBar]:
        """The horizontal (source) and vertical (target) scroll bars, shown while the
        cells with a label each do not fit."""
        return self._parts.x_scroll.bar, self._parts.y_scroll.bar

    def plot_widget(self) -> pg.PlotWidget:
        return self._plot

    def export_target(self) -> QtWidgets.QGraphicsItem:
        """The graphics item an exporter should render (the grid in grid mode)."""
        if self._grid_shown():
            return self._grid.export_target()
        return self._plot.getPlotItem()

    # ------------------------------------------------------------- building
    def _build_plot(self, hover_rate: float) -> None:
        self._parts = HeatmapPlot(self._cmap_name)
        self._plot, self._bar = self._parts.plot, self._parts.bar
        self._row_box, self._col_box = self._parts.row_box, self._parts.col_box
        self._coverage, self._mark = self._parts.coverage, self._parts.mark
        scene = self._plot.scene()
        self._hover_proxy = pg.SignalProxy(
            scene.sigMouseMoved, rateLimit=hover_rate, slot=self._on_mouse_moved
        )
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

    def _build_layout(self) -> None:
        self._controls = HeatmapControls(self._cmap_name)
        self._head_combo = self._controls.head_combo
        self._cmap_combo = self._controls.cmap_combo
        self._controls.headChosen.connect(self.set_head_mode)
        self._controls.layerChosen.connect(self.set_layer_mode)
        self._controls.rolloutToggled.connect(self.set_rollout)
        self._controls.colormapChosen.connect(self.set_colormap)
        self._controls.scoresToggled.connect(
            lambda on: self.set_value_kind(SCORES if on else WEIGHTS)
        )
        self._status = self._controls.hover_label
        self._grid.cellHovered.connect(self._status.setText)  # a grid cell, read out
        self._stack = QtWidgets.QStackedWidget()
        self._stack.addWidget(self._parts.widget)
        self._stack.addWidget(self._grid)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self._controls)
        layout.addWidget(self._stack, 1)
        self._sync_controls()

    # -------------------------------------------------------------- refresh
    def _refresh(self) -> None:
        self._shown = self._data.shown(self._choice, self._value_kind, rolled_out=self.rollout_on())
        levels = score_levels(self._shown) if self._value_kind == SCORES else (0.0, 1.0)
        self._parts.show_matrix(self._shown, levels)
        grid_mode = self._grid_shown()
        self._stack.setCurrentIndex(1 if grid_mode else 0)
        if grid_mode and self._data.rows:
            source, target = self._data.labels()
            self._grid.set_heads(
                self._data.heads(), self._data.layer_count(), source=source, target=target
            )
        self._update_boxes()

    def _update_labels(self) -> None:
        self._parts.set_labels(*self._data.labels())

    def _update_boxes(self) -> None:
        self._parts.outline(*self._shown.shape, *self._highlight)
        self._update_coverage()

    def _update_coverage(self) -> None:
        """The coverage bar follows the selected row (the newest when none is selected)."""
        rows = self._data.rows
        if rows == 0:
            self._coverage.set_coverage(None, None)
            return
        row = self._highlight[0]
        row = rows - 1 if row is None else min(max(row, 0), rows - 1)
        self._coverage.set_coverage(self._data.coverage(row), row, rows=rows)

    # ------------------------------------------------------------- handlers
    def _on_mouse_moved(self, args: tuple) -> None:
        cell = self.cell_at(args[0])
        if cell is None:
            self._show_coverage_tip(args[0])
            return
        row, col = cell
        text = self.describe_cell(row, col)
        self._status.setText(text)
        QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self._plot)
        self.cellHovered.emit(row, col, float(self._shown[row, col]))

    def _show_coverage_tip(self, scene_pos: QtCore.QPointF) -> None:
        """Over the coverage bar: that token's coverage; elsewhere nothing."""
        point = self._parts.view_point(scene_pos)
        text = self._coverage.tip_at(point.x(), point.y(), self._data.source)
        if text:
            QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self._plot)
        self._status.setText(text)

    def _on_mouse_clicked(self, event) -> None:
        button = event.button()
        cell = self.cell_at(event.scenePos())
        if cell is None:
            return
        row, col = cell
        if button == QtCore.Qt.MouseButton.RightButton:
            self.cellMenuRequested.emit(row, col, QtGui.QCursor.pos())
            return
        if button != QtCore.Qt.MouseButton.LeftButton:
            return
        self.highlight(row=row, col=col)
        self.cellClicked.emit(row, col)
        self.rowSelected.emit(row)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        step = {QtCore.Qt.Key.Key_Up: -1, QtCore.Qt.Key.Key_Down: 1}.get(event.key())
        if step is None or self._data.rows == 0:
            super().keyPressEvent(event)
            return
        current = self._highlight[0]
        self.select_row(0 if current is None else current + step)
        self.rowSelected.emit(self._highlight[0])
