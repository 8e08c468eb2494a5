"""The run folder's workspace: one output's attention epoch by epoch, with its curves.

``EpochView`` is handed an EpochTrace (engine/compare/epochs.py) and shows, for the
epoch the slider picks, the traced output's attention on the window's heat map widget,
and under it the per-epoch curves (gui/epoch_curves.py) with a marker at that epoch.
Play steps through the epochs (Space; the slider also takes the arrow keys, Home and
End); Export GIF writes the heat map over every epoch (gui/epoch_gif.py). While a
trace runs, a progress bar and Cancel stand in the toolbar. Its requests are signals:
gui/epoch_mode.py sends them to the worker.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.epoch_curves import EpochCurves
from attnscope.gui.heatmap import QtAttentionHeatmap
from attnscope.gui.image_overlay import QtImageAttentionOverlay
from attnscope.gui.token_chips import TokenChips
from attnscope.gui.translate_view import display_piece

PLAY_INTERVAL_MS = 700  # one epoch this long while playing (the GIF's pace too)


class EpochView(QWidget):
    """Epoch slider, heat map of that epoch and the per-epoch curves of one trace."""

    traceRequested = Signal(str)  # the reference to force ("" = the final epoch's output)
    cancelRequested = Signal()
    exportRequested = Signal()
    leaveRequested = Signal()
    epochShown = Signal(int)  # the epoch number now drawn

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trace = None
        self._build_toolbar()
        self.header = QLabel("Open a run folder: File > Open run folder…")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.skipped = QLabel()
        self.skipped.setWordWrap(True)
        self.skipped.setStyleSheet("color: #9a5b00;")
        self.heatmap = QtAttentionHeatmap()
        self.heatmap.rowSelected.connect(self.select_step)
        self.chips = TokenChips()
        self.chips.setToolTip(
            "The output forced through every epoch, with this epoch's probability of each "
            "token; click one to select its row (a captioner: its attention on the picture)"
        )
        self.chips.stepSelected.connect(self.select_step)
        self.overlay: QtImageAttentionOverlay | None = None  # made for a captioner's run
        self.pages = QStackedWidget()
        self.pages.addWidget(self.heatmap)
        self._step = 0  # the output token selected
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("The epoch shown (arrow keys, Home, End; Space plays)")
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._on_slider_changed)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the epochs (Space)")
        self.play_button.toggled.connect(self._on_play_toggled)
        self.play_button.setEnabled(False)
        self.epoch_label = QLabel()
        self.curves = EpochCurves()
        self.curves.epochPicked.connect(self.show_epoch)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_INTERVAL_MS)
        self._timer.timeout.connect(self._advance)
        play_key = QAction(self)
        play_key.setShortcut(QKeySequence(Qt.Key_Space))
        play_key.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        play_key.triggered.connect(self.play_button.toggle)
        self.addAction(play_key)
        self._layout_widgets()

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar("Run folder")
        self.reference = QLineEdit()
        self.reference.setPlaceholderText("Reference to force (empty: the final epoch's output)")
        self.reference.setToolTip(
            "The output forced through every epoch: your reference, or, when empty, what "
            "the final epoch says for this input"
        )
        self.reference.returnPressed.connect(self._on_trace_clicked)
        self.trace_action = QAction("Trace", self)
        self.trace_action.setToolTip("Force the output through every epoch again")
        self.trace_action.triggered.connect(self._on_trace_clicked)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("epoch %v of %m")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop tracing after the epoch being loaded")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.export_action = QAction("Export GIF…", self)
        self.export_action.setToolTip("The heat map over the epochs as an animated GIF")
        self.export_action.triggered.connect(self.exportRequested)
        self.export_action.setEnabled(False)
        self.leave_action = QAction("Leave run", self)
        self.leave_action.setShortcut(QKeySequence("Ctrl+Alt+R"))
        self.leave_action.setToolTip("Back to the single view, as it was (Ctrl+Alt+R)")
        self.leave_action.triggered.connect(self.leaveRequested)
        self.addAction(self.leave_action)
        self.toolbar.addWidget(self.reference)
        self.toolbar.addAction(self.trace_action)
        self.progress_action = self.toolbar.addWidget(self.progress)
        self.cancel_action = self.toolbar.addWidget(self.cancel_button)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.export_action)
        self.toolbar.addAction(self.leave_action)
        self._set_tracing(False)

    def _layout_widgets(self) -> None:
        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.slider, 1)
        row.addWidget(self.epoch_label)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.chips)
        top_layout.addWidget(self.pages, 1)
        top_layout.addWidget(controls)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.curves)
        splitter.setStretchFactor(0, 1)  # half each: four curves need the height
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.header)
        layout.addWidget(self.skipped)
        layout.addWidget(splitter, 1)

    # -- what the worker says ----------------------------------------------------
    def start_tracing(self, folder: str) -> None:
        """A trace of ``folder`` started: progress and Cancel show, Play stops."""
        self.play_button.setChecked(False)
        self.header.setText(f"Tracing {folder}…")
        self.skipped.clear()
        self.progress.setRange(0, 0)  # busy until the folder is read
        self._set_tracing(True)

    def show_run(self, run) -> None:
        """The folder is read: say what was skipped, count the epochs for the progress."""
        self._set_tracing(True)
        self.progress.setRange(0, len(run.epochs))
        self.progress.setValue(0)
        self._show_skipped(run.skipped, run.missing_epochs)

    def show_progress(self, done: int, total: int) -> None:
        self._set_tracing(True)
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def stop_tracing(self, message: str = "") -> None:
        """Tracing ended without a trace (cancelled or refused): the last trace stays."""
        self._set_tracing(False)
        if message:
            self.header.setText(message)

    def show_trace(self, trace, image=None) -> None:
        """Draw ``trace``: the final epoch first, the slider over every epoch. ``image``:
        a captioner's picture (H, W, 3) uint8, drawn under the attention when given."""
        self._set_tracing(False)
        self.trace, self._step = trace, 0
        if trace.grid is not None and image is not None:
            self._overlay().set_image(image)
            self.pages.setCurrentWidget(self.overlay)
        else:
            self.pages.setCurrentWidget(self.heatmap)
        epochs = [e.epoch for e in trace.epochs]
        output = trace.output if len(trace.output) < 120 else trace.output[:119] + "…"
        self.header.setText(
            f"{trace.run.folder.name}: {len(epochs)} epochs ({epochs[0]}–{epochs[-1]}); "
            f"forced through each: the {trace.output_from}, “{output}”"
        )
        self._show_skipped(trace.skipped, trace.run.missing_epochs)
        self.curves.show_trace(trace)
        has_attention = trace.epochs[0].attention is not None
        self.export_action.setEnabled(has_attention)
        for widget in (self.slider, self.play_button):
            widget.setEnabled(len(epochs) > 1)
        self.heatmap.set_tokens(
            [display_piece(p) for p in trace.source_pieces] or _cells(trace.grid),
            [display_piece(p) for p in trace.target_pieces],
        )
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(epochs) - 1)
        self.slider.setValue(len(epochs) - 1)
        self.slider.blockSignals(False)
        self._on_slider_changed(len(epochs) - 1)

    # -- the epoch shown ------------------------------------------------------------
    def show_epoch(self, epoch: int) -> None:
        """Show epoch number ``epoch`` (the nearest traced one)."""
        if self.trace is None:
            return
        numbers = [e.epoch for e in self.trace.epochs]
        index = int(np.argmin([abs(n - epoch) for n in numbers]))
        self.slider.setValue(index)

    def shown_epoch(self) -> int | None:
        if self.trace is None:
            return None
        return self.trace.epochs[self.slider.value()].epoch

    def _on_slider_changed(self, index: int) -> None:
        if self.trace is None or not 0 <= index < len(self.trace.epochs):
            return
        traced = self.trace.epochs[index]
        if traced.attention is not None:
            self.heatmap.set_heads(np.ascontiguousarray(traced.attention, dtype=np.float32))
        pieces = list(self.trace.target_pieces)
        if len(pieces) == len(traced.token_log_probs):
            self.chips.set_tokens(pieces, list(traced.token_log_probs))
        self._show_step()
        entropy = "" if traced.entropy is None else f" · attention entropy {traced.entropy:.2f}"
        self.epoch_label.setText(
            f"epoch {traced.epoch} ({index + 1} of {len(self.trace.epochs)}) · "
            f"log p {traced.log_prob:.2f}{entropy}"
        )
        self.curves.set_epoch(traced.epoch)
        self.epochShown.emit(traced.epoch)

    def select_step(self, step: int) -> None:
        """Select output token ``step`` (its heat map row, or its attention on the picture)."""
        self._step = step
        self._show_step()

    def _show_step(self) -> None:
        traced = self.trace.epochs[self.slider.value()] if self.trace is not None else None
        if traced is None or traced.attention is None:
            return
        step = min(self._step, traced.attention.shape[0] - 1)
        self.chips.select(step)
        if self.pages.currentWidget() is self.overlay:
            grid = traced.attention[step].mean(axis=0).reshape(self.trace.grid)  # heads averaged
            self.overlay.set_attention(grid)
        else:
            self.heatmap.select_row(step)

    def _overlay(self) -> QtImageAttentionOverlay:
        if self.overlay is None:
            self.overlay = QtImageAttentionOverlay()
            self.pages.addWidget(self.overlay)
        return self.overlay

    def _on_play_toggled(self, playing: bool) -> None:
        self.play_button.setText("Pause" if playing else "Play")
        if playing and self.trace is not None:
            if self.slider.value() == self.slider.maximum():
                self.slider.setValue(0)  # play from the first epoch again
            self._timer.start()
        else:
            self._timer.stop()

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)  # stop at the final epoch
        else:
            self.slider.setValue(self.slider.value() + 1)

    def _on_trace_clicked(self) -> None:
        self.traceRequested.emit(self.reference.text().strip())

    def _show_skipped(self, skipped, missing_epochs) -> None:
        """The files left out, and the epochs metrics.jsonl has but no usable weights."""
        lines = list(skipped)
        if missing_epochs:
            numbers = ", ".join(str(epoch) for epoch in missing_epochs)
            lines.append(f"metrics.jsonl has epochs {numbers} without usable weights here")
        self.skipped.setText("\n".join(lines))
        self.skipped.setVisible(bool(lines))

    def _set_tracing(self, tracing: bool) -> None:
        self.progress_action.setVisible(tracing)
        self.cancel_action.setVisible(tracing)
        self.trace_action.setEnabled(not tracing)


def _cells(grid) -> list[str]:
    """Column labels for a picture's grid cells, "row,col" (a captioner has no pieces)."""
    if grid is None:
        return []
    rows, cols = grid
    return [f"{row},{col}" for row in range(rows) for col in range(cols)]
