"""Attention heat map: target steps down, source tokens across.

The view is pyqtgraph's matrix-display recipe: one row-major float32
``ImageItem`` drawn with fixed levels (0, 1), a ``ColorBarItem`` and
category tick labels. It holds its data as a (T, heads, S) buffer so live
stepping (``append_row``) only writes one row and re-uploads the image; the
items themselves are built once.

Head modes: a head index shows that head, ``"mean"`` averages the heads and
``"grid"`` shows every head as a small multiple (``QtHeadGrid``, in
``attnscope.gui.head_grid``); the token labels are ``TokenAxis``
(``attnscope.gui.token_axis``).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.head_grid import QtHeadGrid
from attnscope.gui.heatmap_controls import HEAD_GRID, HEAD_MEAN, HeatmapControls
from attnscope.gui.heatmap_items import (
    CoverageBar,
    RowMark,
    TrueColourImageItem,
    outline_box,
    room_for_row,
    score_levels,
    score_rows,
)
from attnscope.gui.style import DEFAULT_COLORMAP, HIGHLIGHT_COLOUR, colormap
from attnscope.gui.token_axis import TokenAxis

pg.setConfigOptions(imageAxisOrder="row-major")
logger = logging.getLogger(__name__)

WEIGHTS = "weights"  # what the cells show: attention weights (0..1) ...
SCORES = "scores"  # ... or the raw pre-softmax scores, on their own scale


class QtAttentionHeatmap(QtWidgets.QWidget):
    """Attention weights of a decode: row i = target step i, column j = source position j.

    Signals: ``cellHovered(row, col, weight)`` (rate limited),
    ``cellClicked(row, col)`` and ``rowSelected(row)`` (click, Up/Down keys),
    ``cellMenuRequested(row, col, global_pos)`` (right click on a cell).

    Under the source axis a coverage bar (``coverage()``) shows each source token's
    attention summed up to the selected row; ``set_value_kind(SCORES)`` shows the raw
    scores given by ``set_scores`` instead of the weights; ``mark_row`` outlines a row.
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
        self._source: list[str] = []
        self._target: list[str] = []
        self._buffer = np.zeros((0, 1, 0), dtype=np.float32)  # (capacity, heads, S)
        self._rows = 0
        self._shown = np.zeros((0, 0), dtype=np.float32)  # (T, S) what the image shows
        self._head_mode: int | str = HEAD_MEAN
        self._highlight: tuple[int | None, int | None] = (None, None)
        self._value_kind = WEIGHTS
        self._scores: np.ndarray | None = None  # (T', heads, S) raw scores, T' <= T
        self._build_plot(hover_rate)
        self._grid = QtHeadGrid(colormap_name=colormap_name)
        self._grid.headClicked.connect(self._on_grid_head_clicked)
        self._build_layout()
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

    # ----------------------------------------------------------------- data
    def set_tokens(self, source: list[str], target: list[str]) -> None:
        """Axis labels: ``source`` across the top, ``target`` down the left."""
        self._source, self._target = list(source), list(target)
        self._update_labels()

    def set_matrix(self, weights: np.ndarray) -> None:
        """Show one (T, S) attention matrix (a single head)."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 2:
            raise ValueError(f"attention matrix must be (T, S), got shape {weights.shape}")
        self.set_heads(weights[:, None, :])

    def set_heads(self, weights: np.ndarray) -> None:
        """Show multi-head attention ``weights`` (T, heads, S)."""
        weights = np.asarray(weights, dtype=np.float32)
        if weights.ndim != 3:
            raise ValueError(f"head weights must be (T, heads, S), got shape {weights.shape}")
        self._buffer = weights.copy()
        self._rows = weights.shape[0]
        self._sync_head_combo()
        self._update_labels()
        self._refresh()

    def append_row(self, row: np.ndarray, target_token: str) -> None:
        """Add the attention of one new decode step: ``row`` (S,) or (heads, S)."""
        row = np.asarray(row, dtype=np.float32)
        row = row[None, :] if row.ndim == 1 else row  # (heads, S)
        if row.ndim != 2:
            raise ValueError(f"attention row must be (S,) or (heads, S), got shape {row.shape}")
        if self._rows == 0 and self._buffer.shape[1:] != row.shape:
            self._buffer = np.zeros((64, *row.shape), dtype=np.float32)
            self._sync_head_combo()
        elif self._buffer.shape[1:] != row.shape:
            expected = self._buffer.shape[1:]
            raise ValueError(f"attention row has shape {row.shape}, expected {expected}")
        self._buffer = room_for_row(self._buffer, self._rows)
        self._buffer[self._rows] = row
        self._rows += 1
        del self._target[self._rows - 1 :]
        self._target.extend([""] * (self._rows - 1 - len(self._target)) + [target_token])
        self._update_labels()
        self._refresh()

    def clear(self) -> None:
        """Drop the data and tokens."""
        self._source, self._target = [], []
        self._buffer = np.zeros((0, 1, 0), dtype=np.float32)
        self._rows = 0
        self._highlight = (None, None)
        self._scores = None
        self._mark.set_row(None)
        self._sync_head_combo()
        self._update_labels()
        self._refresh()

    def matrix(self) -> np.ndarray:
        """(T, S) copy of what the main heat map shows (the mean of heads in grid mode)."""
        return self._shown.copy()

    def heads(self) -> np.ndarray:
        """(T, heads, S) copy of all the data held."""
        return self._buffer[: self._rows].copy()

    def source_tokens(self) -> list[str]:
        return list(self._source)

    def target_tokens(self) -> list[str]:
        return list(self._target[: self._rows])

    # ----------------------------------------------------------- appearance
    def set_head_mode(self, mode: int | str) -> None:
        """Show one head (0-based index), ``"mean"`` of heads, or the ``"grid"`` of all heads."""
        heads = self._buffer.shape[1]
        if isinstance(mode, str) and mode not in (HEAD_MEAN, HEAD_GRID):
            raise ValueError(
                f"unknown head mode {mode!r}; use a head index, {HEAD_MEAN!r} or {HEAD_GRID!r}"
            )
        if isinstance(mode, int) and not 0 <= mode < max(heads, 1):
            raise ValueError(f"head {mode} out of range; this attention has {heads} head(s)")
        self._head_mode = mode
        self._controls.show_head(mode)
        self._refresh()

    def head_mode(self) -> int | str:
        return self._head_mode

    def set_colormap(self, name: str) -> None:
        """Colour map by name (see ``attnscope.gui.style.COLORMAPS``)."""
        cmap = colormap(name)
        self._cmap_name = name
        self._bar.setColorMap(cmap)
        self._image.setColorMap(cmap)
        self._grid.set_colormap(name)
        self._controls.show_colormap(name)

    def colormap_name(self) -> str:
        return self._cmap_name

    def highlight(self, row: int | None = None, col: int | None = None) -> None:
        """Outline target row ``row`` and/or source column ``col`` (None hides it)."""
        self._highlight = (row, col)
        self._update_boxes()

    def select_row(self, row: int) -> None:
        """Highlight target row ``row`` (clamped) as the selected step; emits nothing.

        Only the user's own clicks and Up/Down keys emit ``rowSelected``, so a
        window can call this from its ``rowSelected`` handler without looping.
        """
        if self._rows:
            self.highlight(row=min(max(row, 0), self._rows - 1))

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
        if scores is not None:
            scores = np.asarray(scores, dtype=np.float32)
            if scores.ndim != 3:
                raise ValueError(f"scores must be (T, heads, S), got shape {scores.shape}")
        self._scores = scores
        if self._value_kind == SCORES:
            self._refresh()

    def set_value_kind(self, kind: str) -> None:
        """Show attention ``WEIGHTS`` (levels 0..1) or raw ``SCORES`` (their own range)."""
        if kind not in (WEIGHTS, SCORES):
            raise ValueError(f"unknown value kind {kind!r}; use {WEIGHTS!r} or {SCORES!r}")
        if kind != self._value_kind:
            self._value_kind = kind
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
        viewbox = self._plot.getPlotItem().getViewBox()
        if self._rows == 0 or not viewbox.sceneBoundingRect().contains(scene_pos):
            return None
        point = viewbox.mapSceneToView(scene_pos)
        row, col = math.floor(point.y()), math.floor(point.x())
        if 0 <= row < self._shown.shape[0] and 0 <= col < self._shown.shape[1]:
            return row, col
        return None

    def scene_pos_of_cell(self, row: int, col: int) -> QtCore.QPointF:
        """Scene position of the centre of cell (row, col)."""
        viewbox = self._plot.getPlotItem().getViewBox()
        return viewbox.mapViewToScene(QtCore.QPointF(col + 0.5, row + 0.5))

    def describe_cell(self, row: int, col: int) -> str:
        """'source → target: weight' text for a cell."""
        source = self._source[col] if col < len(self._source) else f"#{col}"
        target = self._target[row] if row < len(self._target) else f"#{row}"
        value = self._shown[row, col]
        if self._value_kind == SCORES:
            return f"{source} → {target}: score {value:.3g}"
        return f"{source} → {target}: {value:.2f}"

    def plot_widget(self) -> pg.PlotWidget:
        return self._plot

    def export_target(self) -> QtWidgets.QGraphicsItem:
        """The graphics item an exporter should render (the grid in grid mode)."""
        if self._head_mode == HEAD_GRID:
            return self._grid.export_target()
        return self._plot.getPlotItem()

    # ------------------------------------------------------------- building
    def _build_plot(self, hover_rate: float) -> None:
        self._x_axis = TokenAxis("top")
        self._y_axis = TokenAxis("left")
        self._plot = pg.PlotWidget(axisItems={"top": self._x_axis, "left": self._y_axis})
        plot_item = self._plot.getPlotItem()
        plot_item.showAxis("top")
        plot_item.hideAxis("bottom")
        plot_item.hideButtons()
        viewbox = plot_item.getViewBox()
        viewbox.invertY(True)
        viewbox.setDefaultPadding(0.0)
        self._image = TrueColourImageItem(axisOrder="row-major")
        plot_item.addItem(self._image)
        self._bar = pg.ColorBarItem(
            values=(0, 1),
            colorMap=colormap(self._cmap_name),
            interactive=False,
            width=14,
            colorMapMenu=False,
            label="weight",
        )
        self._bar.setImageItem(self._image, insert_in=plot_item)
        self._row_box = outline_box(plot_item, HIGHLIGHT_COLOUR)
        self._col_box = outline_box(plot_item, HIGHLIGHT_COLOUR)
        self._coverage = CoverageBar(plot_item)
        self._mark = RowMark(plot_item)
        viewbox.setMenuEnabled(False)  # right click edits attention (cellMenuRequested)
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
        self._controls.colormapChosen.connect(self.set_colormap)
        self._controls.scoresToggled.connect(
            lambda on: self.set_value_kind(SCORES if on else WEIGHTS)
        )
        self._status = QtWidgets.QLabel("")
        self._status.setToolTip("Source token → target token: attention weight under the cursor")
        self._stack = QtWidgets.QStackedWidget()
        self._stack.addWidget(self._plot)
        self._stack.addWidget(self._grid)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self._controls)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self._status)
        self._plot.setToolTip("Attention: rows are target steps, columns are source tokens")
        self._sync_head_combo()

    # -------------------------------------------------------------- refresh
    def _displayed(self) -> np.ndarray:
        data = self._buffer[: self._rows]  # (T, heads, S)
        if self._value_kind == SCORES:
            data = score_rows(self._scores, data.shape)
        if isinstance(self._head_mode, int) and self._head_mode < data.shape[1]:
            return np.ascontiguousarray(data[:, self._head_mode, :])
        return data.mean(axis=1, dtype=np.float32)

    def _refresh(self) -> None:
        self._shown = self._displayed()
        if self._rows == 0:
            self._image.clear()
        else:
            levels = score_levels(self._shown) if self._value_kind == SCORES else (0.0, 1.0)
            self._image.setImage(self._shown, autoLevels=False, levels=levels)
            self._bar.setLevels(levels)
            # the view range follows the new image now, not in the paint: a range changed
            # there marks everything dirty again and the plot is painted twice per frame
            self._plot.getPlotItem().getViewBox().prepareForPaint()
        grid_mode = self._head_mode == HEAD_GRID
        self._stack.setCurrentIndex(1 if grid_mode else 0)
        if grid_mode and self._rows:
            self._grid.set_heads(self._buffer[: self._rows])
        self._update_boxes()

    def _update_labels(self) -> None:
        columns = self._buffer.shape[2] if self._rows else len(self._source)
        rows = self._rows if self._rows else len(self._target)
        source = self._source + [f"#{i}" for i in range(len(self._source), columns)]
        target = self._target + [f"#{i}" for i in range(len(self._target), rows)]
        self._x_axis.set_labels(source[:columns])
        self._y_axis.set_labels(target[:rows])
        self._plot.getPlotItem().layout.activate()  # apply a new axis width now, not next loop

    def _update_boxes(self) -> None:
        rows, columns = self._shown.shape
        row, col = self._highlight
        show_row = row is not None and 0 <= row < rows
        show_col = col is not None and 0 <= col < columns
        if show_row:
            self._row_box.setRect(QtCore.QRectF(0, row, columns, 1))
        if show_col:
            self._col_box.setRect(QtCore.QRectF(col, 0, 1, rows))
        self._row_box.setVisible(show_row)
        self._col_box.setVisible(show_col)
        self._mark.place(rows, columns)
        self._update_coverage()

    def _update_coverage(self) -> None:
        """The coverage bar follows the selected row (the newest when none is selected)."""
        if self._rows == 0:
            self._coverage.set_coverage(None, None)
            return
        row = self._highlight[0]
        row = self._rows - 1 if row is None else min(max(row, 0), self._rows - 1)
        weights = self._buffer[: row + 1]  # (row + 1, heads, S)
        coverage = weights.mean(axis=1).sum(axis=0, dtype=np.float32)
        self._coverage.set_coverage(coverage, row, rows=self._rows)

    def _sync_head_combo(self) -> None:
        heads = self._buffer.shape[1]
        if isinstance(self._head_mode, int) and self._head_mode >= heads:
            self._head_mode = HEAD_MEAN
        if heads <= 1 and self._head_mode == HEAD_GRID:
            self._head_mode = HEAD_MEAN
        self._controls.set_heads(heads, self._head_mode)

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
        point = self._plot.getPlotItem().getViewBox().mapSceneToView(scene_pos)
        text = self._coverage.tip_at(point.x(), point.y(), self._source)
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

    def _on_grid_head_clicked(self, head: int) -> None:
        self.set_head_mode(head)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        step = {QtCore.Qt.Key.Key_Up: -1, QtCore.Qt.Key.Key_Down: 1}.get(event.key())
        if step is None or self._rows == 0:
            super().keyPressEvent(event)
            return
        current = self._highlight[0]
        self.select_row(0 if current is None else current + step)
        self.rowSelected.emit(self._highlight[0])
