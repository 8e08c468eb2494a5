"""The text what-if: edit the attention row of the selected step and continue from there.

``AttentionRowEditor`` is the panel under the heat map: one vertical slider per
source token showing the selected step's attention (heads averaged), Apply, Reset
row, Show original and Undo edit, and a line with the word diff. Right-clicking a
cell of the heat map offers "Pin all attention here" and "Zero and renormalise";
dragging a slider sets that token's weight (the others rescale so the row still
sums to 1). The edits are engine/interventions.py's ``pin``, ``zero`` and
``set_weight`` applied to every head.

``AttentionEditor`` wires it: Apply (Ctrl+Return) sends the edited row
(``DecodeRequests.edit_attention``): the worker finishes the original decode,
retakes the step with the edited attention (the session keeps the AttentionEdit,
so a saved session has it) and the decode continues live. Each new snapshot is
diffed word by word against the original (engine/decode_diff.py); changed chips
are highlighted. Undo edit (Ctrl+Shift+Z) restores the original decode exactly.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from attnscope.engine.interventions import pin, set_weight, zero
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState, WhatIf
from attnscope.gui.translate_view import TranslateWorkspace, display_piece

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


class AttentionEditor(QObject):
    """Connects the row editor to the heat map, the state, the requests and the worker."""

    def __init__(
        self,
        state: DecodeState,
        requests: DecodeRequests,
        *,
        translate_view: TranslateWorkspace,
        select_step: Callable[[int], None],
        show_message: Callable[..., None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.requests = state, requests
        self.view, self._select_step, self._show_message = translate_view, select_step, show_message
        self.editor = AttentionRowEditor()
        translate_view.add_under_heatmap(self.editor)
        self.apply_action = self._action("Apply attention edit", "Ctrl+Return", self.editor.apply)
        self.undo_action = self._action("Undo attention edit", "Ctrl+Shift+Z", self.undo)
        self.extra_menu_actions: list[QAction] = []  # e.g. the raw-scores toggle
        self._pending: tuple[int, np.ndarray] | None = None  # the edit sent, until answered
        translate_view.heatmap.cellMenuRequested.connect(self._on_cell_menu_requested)
        self.editor.applyRequested.connect(self.apply)
        self.editor.undoRequested.connect(self.undo)
        self.editor.showOriginalToggled.connect(self._on_show_original_toggled)
        state.snapshotChanged.connect(self._on_snapshot_changed)
        state.selectedStepChanged.connect(lambda _step: self._load_row())
        state.whatIfChanged.connect(self._on_what_if_changed)

    def _action(self, text: str, key: str, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.setToolTip(f"{text} ({QKeySequence(key).toString()})")
        action.setStatusTip(text)
        action.triggered.connect(lambda _=False: slot())
        return action

    # -- the context menu ---------------------------------------------------------
    def menu_for(self, row: int, col: int) -> QMenu:
        """The right-click menu of cell (row, col): selects that step, offers the edits."""
        self._select_step(row)
        self._load_row()
        tokens = self.view.heatmap.source_tokens()
        token = tokens[col] if col < len(tokens) else f"#{col}"
        menu = QMenu(self.view)
        pin_action = menu.addAction(f"Pin all attention here ({token})")
        pin_action.triggered.connect(lambda: self._guarded(self.editor.pin, col))
        zero_action = menu.addAction(f"Zero {token} and renormalise")
        zero_action.triggered.connect(lambda: self._guarded(self.editor.zero, col))
        menu.addSeparator()
        menu.addAction(self.apply_action)
        if self.extra_menu_actions:
            menu.addSeparator()
            menu.addActions(self.extra_menu_actions)
        return menu

    def _on_cell_menu_requested(self, row: int, col: int, where: QPoint) -> None:
        self.menu_for(row, col).exec(where)

    def _guarded(self, edit: Callable[[int], None], col: int) -> None:
        try:
            edit(col)
        except ValueError as exc:  # e.g. zeroing the only attended token
            self._show_message(f"Attention edit refused: {exc}", "warning")

    # -- apply / undo ---------------------------------------------------------------
    def apply(self, step: int | None = None, weights: np.ndarray | None = None) -> None:
        """Send the edited row: the decode continues from its step with it."""
        step = self.editor.step() if step is None else step
        weights = self.editor.row() if weights is None else weights
        snapshot = self.state.snapshot
        if step is None or snapshot is None or snapshot.attention is None:
            self._show_message("Decode a few steps, then select the step to edit.", "warning")
            return
        self._pending = (step, np.asarray(weights, dtype=np.float32))
        self.requests.edit_attention(step, self._pending[1])

    def original_arrived(self, original) -> None:
        """The worker's whatIfBase: the decode before the edit (run to its end)."""
        if self._pending is not None:
            step, weights = self._pending
            self._pending = None
            what_if = WhatIf(step=step, original=original, weights=weights)
            self.state.set_what_if(what_if)
            self._on_snapshot_changed(self.state.snapshot)  # the diff of what is shown now

    def undo(self) -> None:
        what_if = self.state.what_if
        if what_if is None:
            self._show_message("There is no attention edit to undo.", "info")
            return
        self.requests.undo_edit(what_if.step)

    # -- following the state ---------------------------------------------------------
    def _load_row(self) -> None:
        snapshot, step = self.state.snapshot, self.state.shown_step()
        if snapshot is None or not snapshot.num_heads:
            self.editor.set_row(None, None, [])
            return
        tokens = [display_piece(p) for p in snapshot.source_pieces]
        if step is None or snapshot.attention is None:  # no step yet: the columns, greyed
            self.editor.set_row(None, None, tokens)
            return
        if step >= snapshot.attention.shape[0]:
            return
        if self.editor.step() == step and self.editor.is_edited():
            return  # keep the user's unsent edit of this step
        self.editor.set_row(step, snapshot.attention[step], tokens)

    def _on_snapshot_changed(self, snapshot) -> None:
        self._load_row()
        what_if = self.state.what_if
        if snapshot is None or what_if is None:
            return
        diff = word_diff(what_if.original, snapshot)
        self.state.set_what_if(dataclasses.replace(what_if, diff=diff))

    def _on_what_if_changed(self, what_if) -> None:
        self.editor.set_what_if_shown(what_if is not None)
        if what_if is None or what_if.diff is None:
            self.view.highlight_changed_steps(())
            return
        self.view.highlight_changed_steps(self._changed_steps(what_if))
        self.editor.diff_label.setText(
            f"<b>What-if at step {what_if.step + 1}:</b> {html.escape(what_if.diff.describe())}"
        )

    def _on_show_original_toggled(self, on: bool) -> None:
        what_if, snapshot = self.state.what_if, self.state.snapshot
        if what_if is None or snapshot is None:
            return
        shown = what_if.original if on else snapshot
        self.view.show_snapshot(shown, what_if.step)
        self.view.highlight_changed_steps(() if on else self._changed_steps(what_if))

    @staticmethod
    def _changed_steps(what_if) -> list[int]:
        if what_if.diff is None:
            return []
        diff = what_if.diff
        pairs = zip(diff.after, diff.changed_after(), strict=True)
        return [step for word, on in pairs if on for step in word.steps]


def word_diff(original, edited):
    """The engine's DecodeDiff of two SessionSnapshots (pieces and their log-probs)."""
    from attnscope.engine.decode_diff import diff_outputs  # after a model load: no start-up cost

    return diff_outputs(
        original.target_pieces,
        [s.log_prob for s in original.steps],
        edited.target_pieces,
        [s.log_prob for s in edited.steps],
    )
