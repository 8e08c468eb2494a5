"""The target tokens as chips: hover for the probability, click to select that step.

A chip whose token was forced (by the user or by Check a reference) has a dashed
border; its tooltip also names the model's own first choice when that differs.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QToolButton, QWidget

# One style sheet on the row, chips pick their colour by the "band" property: a style
# sheet per chip made Qt parse and polish a new sheet for every token of a decode.
_BANDS = {"sure": "#f4f8fb", "unsure": "#fff6dc", "doubtful": "#ffe3de"}
CHIPS_STYLE = (
    "QToolButton {border:1px solid #b8c4d0; border-radius:6px; padding:2px 6px;}"
    + "".join(
        f'QToolButton[band="{band}"] {{background:{colour};}}' for band, colour in _BANDS.items()
    )
    + 'QToolButton[forced="true"] {border-style:dashed; border-color:#6b7785;}'
    + "QToolButton:checked {border:2px solid #1f6feb; background:#dbe9ff;}"
)


def step_note(step) -> str:
    """What a chip's tooltip adds for one TokenStep: forced, and the model's first choice
    when it was another token."""
    notes = []
    if step.forced:
        notes.append("forced")
    if len(step.topk_ids) and int(step.topk_ids[0]) != step.token_id:
        notes.append(
            f"the model's first choice: {step.topk_pieces[0]!r} p = {float(step.topk_probs[0]):.3f}"
        )
    return " · ".join(notes)


def _chip_band(prob: float) -> str:
    """Low-probability tokens get a warmer background so doubts stand out."""
    if prob >= 0.7:
        return "sure"
    if prob >= 0.4:
        return "unsure"
    return "doubtful"


class _Chip(QToolButton):
    """A checkable token button that reports the pointer entering it (and no other event:
    an event filter would route every paint and move of every chip through Python)."""

    entered = Signal(object)

    def __init__(self, text: str) -> None:
        super().__init__()
        self.setText(text)

    def enterEvent(self, event) -> None:
        self.entered.emit(self)
        super().enterEvent(event)


class TokenChips(QScrollArea):
    """A horizontal row of subword chips; ``stepSelected(int)`` on click."""

    stepSelected = Signal(int)
    stepHovered = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFixedHeight(52)
        self._inner = QWidget()
        self._layout = QHBoxLayout(self._inner)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.addStretch(1)
        self._inner.setStyleSheet(CHIPS_STYLE)
        self.setWidget(self._inner)
        self.chips: list[QToolButton] = []
        self._scoring = None  # (step, index) -> (confidence, tooltip line), or None
        self._shown: tuple | None = None  # the last set_tokens arguments

    def set_scoring(self, scoring) -> None:
        """Colour the chips by ``scoring(step, index)`` = (confidence in [0, 1], a tooltip
        line), e.g. the step-score strip's choice (gui/step_score_strip.py), instead of the
        probability; None goes back to the probability."""
        self._scoring = scoring
        if self._shown is not None:
            self.set_tokens(*self._shown)

    def set_tokens(self, pieces: list[str], log_probs: list[float], steps=None) -> None:
        """Rebuild only what changed: chips are reused when the prefix is the same.

        steps: the snapshot's TokenSteps, for the forced mark and the model's own choice.
        """
        self._shown = (pieces, log_probs, steps)
        while len(self.chips) > len(pieces):
            self.chips.pop().deleteLater()
        for i, (piece, log_prob) in enumerate(zip(pieces, log_probs, strict=True)):
            prob = math.exp(log_prob)
            text = piece.replace("▁", "␣") if piece.strip("▁") == "" else piece.lstrip("▁")
            tip = f"step {i + 1}: {piece!r}  p = {prob:.3f}"
            note = step_note(steps[i]) if steps is not None else ""
            forced = "true" if steps is not None and steps[i].forced else "false"
            tip += f"\n{note}" if note else ""
            band = _chip_band(prob)
            if self._scoring is not None and steps is not None:
                sure, line = self._scoring(steps[i], i)
                band = _chip_band(prob if math.isnan(sure) else sure)
                tip += f"\n{line}"
            if i == len(self.chips):
                chip = _Chip(text)
                chip.setToolTip(tip)
                chip.setProperty("band", band)  # before the first polish: nothing to redo
                chip.setProperty("forced", forced)
                chip.setCheckable(True)
                chip.clicked.connect(lambda _=False, step=i: self.stepSelected.emit(step))
                chip.entered.connect(self._on_chip_entered)
                self._layout.insertWidget(i, chip)
                self.chips.append(chip)
                continue
            chip = self.chips[i]
            if chip.text() != text or chip.toolTip() != tip:
                chip.setText(text)
                chip.setToolTip(tip)
                if chip.property("band") != band or chip.property("forced") != forced:
                    chip.setProperty("band", band)
                    chip.setProperty("forced", forced)
                    chip.style().unpolish(chip)  # re-match the style sheet's selectors
                    chip.style().polish(chip)

    def select(self, step: int | None) -> None:
        for i, chip in enumerate(self.chips):
            if chip.isChecked() != (i == step):
                chip.setChecked(i == step)
        if step is not None and 0 <= step < len(self.chips):
            self.ensureWidgetVisible(self.chips[step])

    def _on_chip_entered(self, chip: QToolButton) -> None:
        if chip in self.chips:
            self.stepHovered.emit(self.chips.index(chip))
