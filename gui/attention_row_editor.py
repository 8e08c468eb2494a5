"""``AttentionRowEditor``: the panel under the heat map that edits one step's attention row.

One vertical slider per source token shows the step's attention (heads averaged), with
Apply, Reset row, Show original and Undo edit, and a line with the word diff. Dragging a
slider sets that token's weight (the others rescale so the row still sums to 1); the
edits are engine/interventions.py's ``pin``, ``zero`` and ``set_weight`` applied to
every head. gui/attention_edit.py wires it to the heat map, the state and the worker.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from attnscope.engine.interventions import pin, set_weight, zero

SLIDER_STEPS = 1000  # a slider's range: weight × 1000
COLUMN_WIDTH = 46


class AttentionRowEditor(QWidget):
    """Sliders over one attention row (heads, S); ``applyRequested(step, weights)``."""

    applyRequested = Signal(int, object)
    undoRequested = Signal()
    showOriginalToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._step: int | None = None
        self._model_row = np.zeros((1, 0), dtype=np.float32)  # (heads, S) the model's
        self._row = self._model_row  # (heads, S) the edited row
        self.sliders: list[QSlider] = []
        self._values: list[QLabel] = []
        self._labels: list[QLabel] = []
        # every column built so far, (box, slider, value, token label); the first S are shown
        self._pool: list[tuple[QWidget, QSlider, QLabel, QLabel]] = []
        self._built: tuple = ((), 0, False)  # (tokens, columns shown, editable) last built
        self._shown_row: list[tuple[int, str] | None] = []  # each slider's position, text
        self.title = QLabel("Select a step to edit its attention")
        self.apply_button = self._button(
            "Apply",
            "Continue the decode from this step with the edited attention (Ctrl+Return)",
            self.apply,
        )
        self.reset_button = self._button(
            "Reset row", "Back to the model's own attention at this step", self.reset_row
        )
        self.original_button = self._button(
            "Show original", "Show the decode before the edit (toggle)", None
        )
        self.original_button.setCheckable(True)
        self.original_button.toggled.connect(self.showOriginalToggled)
        self.undo_button = self._button(
            "Undo edit",
            "Restore the original decode exactly (Ctrl+Shift+Z)",
            self.undoRequested.emit,
        )
        self.diff_label = QLabel("")
        self.diff_label.setWordWrap(True)
        self.diff_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.diff_label.setToolTip("What the edit changed: words, and their probabilities")
        self._columns = QWidget()
        self._columns_layout = QHBoxLayout(self._columns)
        self._columns_layout.setContentsMargins(2, 0, 2, 0)
        self._columns_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._columns)
        scroll.setFixedHeight(150)
        self._layout(scroll)
        self.set_what_if_shown(False)

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        if slot is not None:
            button.clicked.connect(lambda _=False: slot())
        return button

    def _layout(self, scroll: QScrollArea) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        for button in (self.apply_button, self.reset_button, self.original_button):
            bar.addWidget(button)
        bar.addWidget(self.undo_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.diff_label)
        layout.addWidget(scroll)

    # -- the row -------------------------------------------------------------------
    def set_row(self, step: int | None, weights: np.ndarray | None, tokens: list[str]) -> None:
        """Edit step ``step``'s attention ``weights`` (heads, S) over source ``tokens``.

        With no row (``step`` None: a Reset, or no step taken yet) the columns of
        ``tokens`` stay, greyed and empty, so the first step only moves sliders.
        """
        if step is None or weights is None or weights.shape[-1] == 0:
            self._step, self._model_row = None, np.zeros((1, 0), dtype=np.float32)
            self.title.setText("Select a step to edit its attention")
        else:
            self._step = step
            self._model_row = np.asarray(weights, dtype=np.float32).copy()
            self.title.setText(f"<b>Attention at step {step + 1}</b> — drag, or right-click a cell")
        self._row = self._model_row
        self._build_columns(tokens)
        self._show_row()

    def step(self) -> int | None:
        return self._step

    def row(self) -> np.ndarray:
        """(heads, S) the edited row."""
        return self._row.copy()

    def is_edited(self) -> bool:
        return not np.array_equal(self._row, self._model_row)

    def pin(self, col: int) -> None:
        """All the attention on source token ``col``."""
        self._edit(lambda row: pin(row, col))

    def zero(self, col: int) -> None:
        """No attention on source token ``col``; the rest renormalised."""
        self._edit(lambda row: zero(row, col))

    def set_weight(self, col: int, value: float) -> None:
        """Source token ``col`` gets ``value`` in every head; the others rescale."""
        self._edit(lambda row: set_weight(row, col, float(value)))

    def reset_row(self) -> None:
        self._row = self._model_row
        self._show_row()

    def apply(self) -> None:
        if self._step is not None and self._row.shape[-1]:
            self.applyRequested.emit(self._step, self._row.copy())

    def _edit(self, change: Callable[[np.ndarray], np.ndarray]) -> None:
        """Apply ``change`` to the row; a refused edit raises ValueError and keeps it."""
        if self._step is None:
            raise ValueError("select a step first: there is no attention row to edit")
        self._row = change(self._row)
        self._show_row()

    # -- the view -------------------------------------------------------------------
    def set_what_if_shown(self, active: bool) -> None:
        """Show Show original / Undo edit while a what-if is applied."""
        self.original_button.setVisible(active)
        self.undo_button.setVisible(active)
        if not active:
            self.diff_label.setText("")
            with_blocked = self.original_button.blockSignals(True)
            self.original_button.setChecked(False)
            self.original_button.blockSignals(with_blocked)

    def _build_columns(self, tokens: list[str]) -> None:
        """Show one column per source token: the row's, or greyed ones for ``tokens`` when
        there is no row. Columns are kept when fewer are needed (hidden), and a Reset keeps
        them shown: building, or showing, 80 columns again on its first step froze the
        window for tens of milliseconds (issue 22)."""
        editable = self._row.shape[-1] > 0
        count = self._row.shape[-1] if editable else len(tokens)
        built = (tuple(tokens[:count]), count, editable)
        if built == self._built:  # the same columns as the last step: nothing to do
            return
        self._built = built
        self._shown_row = []
        while len(self._pool) < count:
            self._columns_layout.insertWidget(len(self._pool), self._column(len(self._pool)))
        for col, (box, slider, _value, label) in enumerate(self._pool):
            if col < count:
                token = tokens[col] if col < len(tokens) else f"#{col}"
                if label.text() != token:
                    label.setText(token)
                    label.setToolTip(token)
                    slider.setToolTip(
                        f"Attention weight on {token!r} (heads averaged); drag to set it"
                    )
            if box.isHidden() != (col >= count):
                box.setHidden(col >= count)
        self._columns.setHidden(count == 0)
        self._columns.setEnabled(editable)
        shown = self._pool[:count]
        if not editable:  # greyed and empty until a step gives a row
            for _, slider, value, _ in shown:
                slider.setValue(0)
                value.setText("")
            shown = []
        self.sliders = [slider for _, slider, _, _ in shown]
        self._values = [value for _, _, value, _ in shown]
        self._labels = [label for _, _, _, label in shown]

    def _column(self, col: int) -> QWidget:
        """A new column for source token ``col`` (its token is set by ``_build_columns``)."""
        slider = QSlider(Qt.Vertical)
        slider.setRange(0, SLIDER_STEPS)
        slider.sliderReleased.connect(lambda c=col: self._on_slider_released(c))
        value, label = QLabel(), QLabel()
        for text in (value, label):
            text.setAlignment(Qt.AlignCenter)
        # a fixed size: a new weight on every step then repaints the label, where a
        # label that may grow asks its column to lay out again (35 layouts a step on a
        # long source; issue 22)
        value.setFixedSize(COLUMN_WIDTH, value.fontMetrics().height())
        label.setTextFormat(Qt.PlainText)  # a "<s>" piece is no strike-through tag
        box = QWidget()
        box.setFixedWidth(COLUMN_WIDTH)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(value)
        column.addWidget(slider, 1, Qt.AlignHCenter)
        column.addWidget(label)
        self._pool.append((box, slider, value, label))
        return box

    def _show_row(self) -> None:
        """Move the sliders to the row's head mean; only the columns whose position or
        text changed are touched (most of a long source's weights stay 0.00 a step)."""
        mean = self._row.mean(axis=0) if self._row.size else np.zeros(0)
        shown = [(round(float(w) * SLIDER_STEPS), f"{w:.2f}") for w in mean[: len(self.sliders)]]
        before = self._shown_row
        for col, (position, text) in enumerate(shown):
            old = before[col] if col < len(before) else None
            if old is not None and old[0] == position and old[1] == text:
                continue
            slider = self.sliders[col]
            slider.blockSignals(True)
            slider.setValue(position)
            slider.blockSignals(False)
            self._values[col].setText(text)
        self._shown_row = shown
        edited = self.is_edited()
        self.apply_button.setEnabled(edited)
        self.reset_button.setEnabled(edited)

    def _on_slider_released(self, col: int) -> None:
        if col < len(self._shown_row):  # the user moved it: shown anew whatever the row says
            self._shown_row[col] = None
        self.set_weight(col, self.sliders[col].value() / SLIDER_STEPS)
