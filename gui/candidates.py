"""Top-k candidates of one decode step, drawn as probability bars.

The user sees which tokens the model weighed at the selected step, which one
was chosen, and can force another: double-click (or Enter on) a row emits
``candidateActivated(token_id)``; typing a subword in "Force a token" and
pressing Enter emits ``tokenTyped(text)`` for the engine to look up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.style import label_font

_PROB_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1
_ID_ROLE = QtCore.Qt.ItemDataRole.UserRole + 2
_CHOSEN_ROLE = QtCore.Qt.ItemDataRole.UserRole + 3
_FONT_ROLE = QtCore.Qt.ItemDataRole.FontRole
_DISPLAY_ROLE = QtCore.Qt.ItemDataRole.DisplayRole
_TOOLTIP_ROLE = QtCore.Qt.ItemDataRole.ToolTipRole
_BACKGROUND_ROLE = QtCore.Qt.ItemDataRole.BackgroundRole
_COLUMNS = ("#", "token", "probability")
_BAR_COLOUR = "#5c9ded"
_CHOSEN_BAR_COLOUR = "#f4a236"
_CHOSEN_BACKGROUND = "#fff3e0"


@dataclass(frozen=True)
class Candidate:
    """One entry of a step's top-k: vocabulary id, its text and probability in [0, 1]."""

    token_id: int
    token: str
    prob: float


class ProbabilityBarDelegate(QtWidgets.QStyledItemDelegate):
    """Paints a cell's probability (``_PROB_ROLE``) as a horizontal bar with a percentage.

    Painted directly (background or selection, bar, text) rather than through the
    style's item-view drawing: this runs for every row on every frame of a live
    decode, and the style's layout of an empty item cost more than the whole bar.
    """

    _BAR = QtGui.QColor(_BAR_COLOUR)
    _CHOSEN_BAR = QtGui.QColor(_CHOSEN_BAR_COLOUR)
    _SELECTED = QtWidgets.QStyle.StateFlag.State_Selected
    _HIGHLIGHT = QtGui.QPalette.ColorRole.Highlight
    _TEXT = QtGui.QPalette.ColorRole.Text
    _NO_PEN = QtCore.Qt.PenStyle.NoPen
    _ALIGN = QtCore.Qt.AlignmentFlag.AlignVCenter

    def paint(self, painter: QtGui.QPainter, option, index: QtCore.QModelIndex) -> None:
        prob = index.data(_PROB_ROLE)
        if prob is None:
            super().paint(painter, option, index)
            return
        cell, palette = option.rect, option.palette
        if option.state & self._SELECTED:
            painter.fillRect(cell, palette.brush(self._HIGHLIGHT))
        else:
            background = index.data(_BACKGROUND_ROLE)
            if background is not None:
                painter.fillRect(cell, background)
        rect = cell.adjusted(3, 4, -3, -4)
        painter.save()
        painter.setPen(self._NO_PEN)
        painter.setBrush(self._CHOSEN_BAR if index.data(_CHOSEN_ROLE) else self._BAR)
        width = round(rect.width() * min(max(prob, 0.0), 1.0))
        painter.drawRoundedRect(rect.x(), rect.y(), width, rect.height(), 2, 2)
        painter.setPen(palette.color(self._TEXT))
        font = index.data(_FONT_ROLE)
        painter.setFont(font if font is not None else option.font)
        painter.drawText(rect.adjusted(4, 0, -2, 0), self._ALIGN, _percent(prob))
        painter.restore()

    def sizeHint(self, option, index: QtCore.QModelIndex) -> QtCore.QSize:
        hint = super().sizeHint(option, index)
        return QtCore.QSize(max(hint.width(), 140), hint.height() + 6)


def _percent(prob: float) -> str:
    return f"{100.0 * prob:.1f}%" if prob >= 0.001 else f"{100.0 * prob:.2g}%"


class _CandidatesTable(QtWidgets.QTableWidget):
    """The candidates table; Enter/Return emits ``rowActivated`` for the current row.

    A subclass rather than an event filter: a filter routes every event of the
    table (each paint of a live decode) through Python.
    """

    rowActivated = QtCore.Signal(int)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:
        if event.key() in (QtCore.Qt.Key.Key_Return, QtCore.Qt.Key.Key_Enter):
            self.rowActivated.emit(self.currentRow())
            event.accept()
            return
        super().keyPressEvent(event)


class QtCandidatesPanel(QtWidgets.QWidget):
    """The top-k tokens of one step, most probable first, the chosen one marked."""

    candidateActivated = QtCore.Signal(int)
    tokenTyped = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._candidates: tuple[Candidate, ...] = ()
        self._chosen_id: int | None = None
        self._title = QtWidgets.QLabel("Candidates")
        self._title.setFont(label_font(bold=True))
        self._title.setToolTip("The most probable next tokens at the selected step")
        self._chosen_font = label_font(bold=True)
        self._chosen_brush = QtGui.QBrush(QtGui.QColor(_CHOSEN_BACKGROUND))
        self._table = self._build_table()
        self._force_edit = QtWidgets.QLineEdit()
        self._force_edit.setPlaceholderText("type a subword, press Enter")
        self._force_edit.setToolTip("Force this token at the selected step and decode on from it")
        self._force_edit.setClearButtonEnabled(True)
        self._force_edit.returnPressed.connect(self._on_force_text_entered)
        self._completer_model = QtCore.QStringListModel(self)
        completer = QtWidgets.QCompleter(self._completer_model, self)
        completer.setCaseSensitivity(QtCore.Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(QtCore.Qt.MatchFlag.MatchContains)
        self._force_edit.setCompleter(completer)
        force_label = QtWidgets.QLabel("Force a token:")
        force_label.setBuddy(self._force_edit)
        force_label.setToolTip(self._force_edit.toolTip())
        force_row = QtWidgets.QHBoxLayout()
        force_row.addWidget(force_label)
        force_row.addWidget(self._force_edit, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self._title)
        layout.addWidget(self._table, 1)
        layout.addLayout(force_row)

    # ---------------------------------------------------------------- setters
    def set_candidates(
        self,
        candidates: Sequence[Candidate],
        *,
        chosen_id: int | None = None,
        step: int | None = None,
    ) -> None:
        """Show ``candidates`` sorted by probability; mark ``chosen_id`` (the token taken).

        ``step`` is the 0-based decode step, shown 1-based in the title.
        """
        self._candidates = tuple(sorted(candidates, key=lambda c: c.prob, reverse=True))
        self._chosen_id = chosen_id
        self._title.setText("Candidates" if step is None else f"Candidates at step {step + 1}")
        table = self._table
        table.setUpdatesEnabled(False)  # one repaint for the whole table, not one per cell
        try:
            table.setRowCount(len(self._candidates))
            model = table.model()
            with QtCore.QSignalBlocker(model):  # one change signal below, not one per cell
                for row, candidate in enumerate(self._candidates):
                    self._fill_row(row, candidate, chosen=candidate.token_id == chosen_id)
            if self._candidates:
                last = model.index(len(self._candidates) - 1, len(_COLUMNS) - 1)
                model.dataChanged.emit(model.index(0, 0), last)
            if self._candidates:
                chosen_row = self.chosen_row()
                table.setCurrentCell(0 if chosen_row is None else chosen_row, 1)
        finally:
            table.setUpdatesEnabled(True)

    def set_topk(
        self,
        token_ids: Sequence[int],
        tokens: Sequence[str],
        probs: Sequence[float],
        *,
        chosen_id: int | None = None,
        step: int | None = None,
    ) -> None:
        """Same as ``set_candidates`` from three parallel sequences (e.g. a StepResult's top-k)."""
        if not len(token_ids) == len(tokens) == len(probs):
            raise ValueError(
                f"top-k parts differ in length: {len(token_ids)} ids, {len(tokens)} tokens, {len(probs)} probs"
            )
        candidates = [
            Candidate(int(i), str(t), float(p))
            for i, t, p in zip(token_ids, tokens, probs, strict=True)
        ]
        self.set_candidates(candidates, chosen_id=chosen_id, step=step)

    def set_vocabulary(self, tokens: Sequence[str]) -> None:
        """Tokens offered as completions while typing a token to force."""
        self._completer_model.setStringList(list(tokens))

    def clear(self) -> None:
        self.set_candidates([])

    # ---------------------------------------------------------------- getters
    def candidates(self) -> tuple[Candidate, ...]:
        """The candidates in display order (most probable first)."""
        return self._candidates

    def chosen_row(self) -> int | None:
        for row, candidate in enumerate(self._candidates):
            if candidate.token_id == self._chosen_id:
                return row
        return None

    def table(self) -> QtWidgets.QTableWidget:
        return self._table

    def force_edit(self) -> QtWidgets.QLineEdit:
        return self._force_edit

    # --------------------------------------------------------------- building
    def _build_table(self) -> QtWidgets.QTableWidget:
        table = _CandidatesTable(0, len(_COLUMNS))
        table.setHorizontalHeaderLabels(list(_COLUMNS))
        table.verticalHeader().hide()
        table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        table.setItemDelegateForColumn(2, ProbabilityBarDelegate(table))
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QtWidgets.QHeaderView.ResizeMode.Stretch)
        table.setToolTip("Double-click a candidate (or press Enter) to force it at this step")
        table.cellDoubleClicked.connect(self._on_cell_double_clicked)
        table.rowActivated.connect(self._activate_row)
        return table

    def _fill_row(self, row: int, candidate: Candidate, *, chosen: bool) -> None:
        """Write one row into the table's items, made once per cell and then reused
        (a new QTableWidgetItem per cell and step cost more than the whole paint)."""
        log_prob = math.log(candidate.prob) if candidate.prob > 0 else -math.inf
        tip = (
            f"{candidate.token!r} (id {candidate.token_id})\n"
            f"p = {candidate.prob:.4f}, log p = {log_prob:.3f}"
            + ("\nchosen at this step" if chosen else "")
        )
        texts = (("▶ " if chosen else "") + str(row + 1), candidate.token or "∅", "")
        model = self._table.model()
        for column, text in enumerate(texts):
            if self._table.item(row, column) is None:
                self._table.setItem(row, column, QtWidgets.QTableWidgetItem())
            roles = {
                _DISPLAY_ROLE: text,
                _TOOLTIP_ROLE: tip,
                _ID_ROLE: candidate.token_id,
                _CHOSEN_ROLE: chosen,
                # the chosen row is bold on orange; the others fall back to the table's defaults
                _FONT_ROLE: self._chosen_font if chosen else None,
                _BACKGROUND_ROLE: self._chosen_brush if chosen else None,
            }
            if column == 2:
                roles[_PROB_ROLE] = float(candidate.prob)
            model.setItemData(model.index(row, column), roles)  # one change signal per cell

    # --------------------------------------------------------------- handlers
    def _on_cell_double_clicked(self, row: int, _column: int) -> None:
        self._activate_row(row)

    def _on_force_text_entered(self) -> None:
        text = self._force_edit.text().strip()
        if text:
            self.tokenTyped.emit(text)
            self._force_edit.clear()

    def _activate_row(self, row: int) -> None:
        if 0 <= row < len(self._candidates):
            self.candidateActivated.emit(self._candidates[row].token_id)
