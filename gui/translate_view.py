"""The translation workspace: source editor, target chips, attention heat map, timeline."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyleOptionSlider,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.drops import is_file_drop
from attnscope.gui.heatmap import QtAttentionHeatmap
from attnscope.gui.heatmap_items import BREAK_COLOUR
from attnscope.gui.token_chips import TokenChips

LIVE_DELAY_MS = 400
SOURCE_LINES = 3  # the source box's height in lines (it scrolls beyond)


NO_ATTENTION_TEXT = (
    "This model has no attention: every decoder step reads only the encoder's final "
    "summary of the sentence, so there is no alignment to show.\n\n"
    "Open an attention model next to it (File > Open demo model in a new window) "
    "to compare."
)


def display_piece(piece: str) -> str:
    """A sentencepiece piece as an axis label (word starts keep a small marker)."""
    return piece.replace("▁", "·") if piece else "∅"


CHANGED_CHIP_STYLE = "QToolButton {background:#fde7a7; border:2px solid #c58a00;}"
BREAK_CHIP_STYLE = f"QToolButton {{border:2px solid {BREAK_COLOUR};}}"


class StepTimeline(QSlider):
    """The horizontal step scrubber, with a red tick over a marked step (a breakpoint)."""

    def __init__(self) -> None:
        super().__init__(Qt.Horizontal)
        self._mark: int | None = None

    def set_mark(self, step: int | None) -> None:
        """Mark 0-based step ``step`` (slider value step + 1); None removes the mark."""
        self._mark = step
        self.update()

    def mark(self) -> int | None:
        return self._mark

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self._mark is None or self.maximum() <= self.minimum():
            return
        option = QStyleOptionSlider()
        self.initStyleOption(option)
        groove = self.style().subControlRect(QStyle.CC_Slider, option, QStyle.SC_SliderGroove, self)
        handle = self.style().subControlRect(QStyle.CC_Slider, option, QStyle.SC_SliderHandle, self)
        span = groove.width() - handle.width()
        x = (
            groove.x()
            + handle.width() // 2
            + QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), self._mark + 1, span)
        )
        painter = QPainter(self)
        painter.fillRect(QRect(x - 2, 0, 4, self.height()), QColor(BREAK_COLOUR))
        painter.end()


class SourceEditor(QPlainTextEdit):
    """The source text box. Typed, pasted and dropped text goes in; a dropped file or
    picture (see ``drops.is_file_drop``) is handed on as ``fileDropped`` to be opened as
    a drop on the window would be, never pasted as its path."""

    fileDropped = Signal(object)  # the drop's QMimeData

    def dragEnterEvent(self, event) -> None:
        if is_file_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if is_file_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        if is_file_drop(mime):
            event.acceptProposedAction()
            self.fileDropped.emit(mime)
        else:
            super().dropEvent(event)


class TranslateWorkspace(QWidget):
    """Views one decode snapshot; emits the user's requests as signals."""

    sourceEdited = Signal()  # debounced: for translate-as-you-type
    stepSelected = Signal(int)
    fileDropped = Signal(object)  # a file or picture dropped on the source box (QMimeData)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_edit = SourceEditor()
        self.source_edit.fileDropped.connect(self.fileDropped)
        self.source_edit.setPlaceholderText("Type or paste a sentence to translate…")
        self.source_edit.setToolTip("Source text. Step (F10) or Run (F5) to translate it.")
        # three lines (a 40-token sentence at the default size); the heat map needs the room
        lines = self.source_edit.fontMetrics().lineSpacing() * SOURCE_LINES
        self.source_edit.setMaximumHeight(lines + 2 * self.source_edit.frameWidth() + 8)
        self.target_label = QLabel()
        self.target_label.setWordWrap(True)
        # a word longer than the pane (a degenerate output, text without spaces) is clipped
        # instead of widening the window past the screen
        self.target_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.target_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.target_label.setStyleSheet("font-size: 15px; padding: 4px;")
        self.target_label.setToolTip("The translation so far (detokenized)")
        self.chips = TokenChips()
        self.chips.setToolTip(
            "Target subwords: hover for the probability, click to select the step"
        )
        self.heatmap = QtAttentionHeatmap()
        self.no_attention = QLabel(NO_ATTENTION_TEXT)
        self.no_attention.setAlignment(Qt.AlignCenter)
        self.no_attention.setWordWrap(True)
        self.no_attention.setStyleSheet("color: palette(mid); font-size: 14px; padding: 24px;")
        self.attention_pages = QStackedWidget()
        self.attention_pages.addWidget(self.heatmap)
        self._under_heatmap: list[QWidget] = []  # the row editor: hidden without attention
        self.attention_pages.addWidget(self.no_attention)
        self.timeline = StepTimeline()
        self.timeline.setToolTip("Scrub the decode step by step")
        self.timeline.setRange(0, 0)
        self._layout_widgets()
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(LIVE_DELAY_MS)
        self._debounce.timeout.connect(self.sourceEdited)
        self.source_edit.textChanged.connect(self._debounce.start)
        self.chips.stepSelected.connect(self.stepSelected)
        self.heatmap.rowSelected.connect(self.stepSelected)
        self.heatmap.cellClicked.connect(lambda row, _col: self.stepSelected.emit(row))
        self.timeline.valueChanged.connect(lambda v: self.stepSelected.emit(v - 1) if v else None)
        self._shown_rows = 0
        self._changed_steps: frozenset[int] = frozenset()

    def _layout_widgets(self) -> None:
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(QLabel("<b>Source</b>"))
        top_layout.addWidget(self.source_edit)
        top_layout.addWidget(QLabel("<b>Translation</b>"))
        top_layout.addWidget(self.target_label)
        top_layout.addWidget(self.chips)
        self.splitter = QSplitter(Qt.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.attention_pages)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.timeline)

    # -- state in ------------------------------------------------------
    def source(self) -> str:
        return self.source_edit.toPlainText()

    def set_source(self, text: str) -> None:
        self.source_edit.blockSignals(True)
        self.source_edit.setPlainText(text)
        self.source_edit.blockSignals(False)

    def show_snapshot(self, snapshot, selected: int | None) -> None:
        """Draw ``snapshot`` (an engine SessionSnapshot): its attention and its tokens."""
        self.show_attention(snapshot, selected)
        self.show_tokens(snapshot, selected)

    def show_tokens(self, snapshot, selected: int | None) -> None:
        """The translation text and the token chips of ``snapshot``."""
        self.target_label.setText(snapshot.target_text or "<i>(nothing yet)</i>")
        self._fit_translation()
        steps = snapshot.steps
        self.chips.set_tokens(list(snapshot.target_pieces), [s.log_prob for s in steps], steps)
        self.chips.select(selected)
        self._style_chips(marked=self.timeline.mark())

    def _fit_translation(self) -> None:
        """Grow the pane above the heat map when the translation wraps to more lines than
        it has room for: the splitter kept the pane at its one-line minimum, so the chips
        under a two-line translation were cut off. The heat map keeps at least half."""
        top = self.splitter.widget(0)
        sizes = self.splitter.sizes()  # [top, heat map, …]
        missing = top.heightForWidth(top.width()) - sizes[0]
        if missing > 0 and sizes[1] > 0:
            grow = min(missing, sizes[1] // 2)
            self.splitter.setSizes([sizes[0] + grow, sizes[1] - grow, *sizes[2:]])

    def show_attention(self, snapshot, selected: int | None) -> None:
        """The heat map (rows appended when possible) and the timeline of ``snapshot``."""
        pieces = [display_piece(p) for p in snapshot.target_pieces]
        attention = snapshot.attention
        source = [display_piece(p) for p in snapshot.source_pieces]
        rows = 0 if attention is None else attention.shape[0]
        self.attention_pages.setCurrentWidget(
            self.no_attention if snapshot.num_heads == 0 else self.heatmap
        )
        for widget in self._under_heatmap:
            widget.setVisible(snapshot.num_heads > 0)
        if attention is None:
            self.heatmap.clear()
        elif (
            rows == self._shown_rows + 1
            and self.heatmap.source_tokens() == source
            and self.heatmap.target_tokens() == pieces[:-1]
            and snapshot.num_heads == 1
        ):
            self.heatmap.append_row(attention[-1, 0], pieces[-1])
        else:
            self.heatmap.set_tokens(source, pieces[:rows])
            self.heatmap.set_heads(
                np.ascontiguousarray(attention, dtype=np.float32),
                layers=snapshot.num_layers,
                source_mixing=snapshot.source_mixing,
            )
        self._shown_rows = rows
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, len(snapshot.steps))
        self.timeline.setValue(0 if selected is None else selected + 1)
        self.timeline.blockSignals(False)
        if selected is not None and selected < self._shown_rows:
            self.heatmap.select_row(selected)

    def select_step(self, step: int | None) -> None:
        self.chips.select(step)
        if step is not None:
            self.timeline.blockSignals(True)
            self.timeline.setValue(step + 1)
            self.timeline.blockSignals(False)
        if step is not None and step < self._shown_rows:
            self.heatmap.select_row(step)

    # -- debugger marks ------------------------------------------------------
    def add_under_heatmap(self, widget: QWidget) -> None:
        """Put ``widget`` (the attention row editor) under the heat map."""
        self.splitter.addWidget(widget)
        self.splitter.setStretchFactor(self.splitter.count() - 1, 0)
        self._under_heatmap.append(widget)

    def mark_step(self, step: int | None, tip: str = "") -> None:
        """Mark step ``step`` (a breakpoint's stop) on the heat map, timeline and chip."""
        self.heatmap.mark_row(step, tip)
        self.timeline.set_mark(step)
        self._style_chips(marked=step)

    def highlight_changed_steps(self, steps) -> None:
        """Highlight the chips of ``steps`` (what an edit changed); empty clears."""
        self._changed_steps = frozenset(steps)
        self._style_chips(marked=self.timeline.mark())

    def _style_chips(self, *, marked: int | None) -> None:
        changed = self._changed_steps
        for index, chip in enumerate(self.chips.chips):
            style = CHANGED_CHIP_STYLE if index in changed else ""
            style = BREAK_CHIP_STYLE if index == marked else style
            if chip.styleSheet() != style:
                chip.setStyleSheet(style)
