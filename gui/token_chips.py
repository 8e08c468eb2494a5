"""The target tokens as chips: hover for the probability, click to select that step."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QToolButton, QWidget

CHIP_STYLE = (
    "QToolButton {border:1px solid #b8c4d0; border-radius:6px; padding:2px 6px; background:%s;}"
    "QToolButton:checked {border:2px solid #1f6feb; background:#dbe9ff;}"
)


def _chip_colour(prob: float) -> str:
    """Low-probability tokens get a warmer background so doubts stand out."""
    if prob >= 0.7:
        return "#f4f8fb"
    if prob >= 0.4:
        return "#fff6dc"
    return "#ffe3de"


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
        self.setWidget(self._inner)
        self.chips: list[QToolButton] = []

    def set_tokens(self, pieces: list[str], log_probs: list[float]) -> None:
        """Rebuild only what changed: chips are reused when the prefix is the same."""
        while len(self.chips) > len(pieces):
            self.chips.pop().deleteLater()
        for i, (piece, log_prob) in enumerate(zip(pieces, log_probs, strict=True)):
            if i == len(self.chips):
                chip = QToolButton()
                chip.setCheckable(True)
                chip.clicked.connect(lambda _=False, step=i: self.stepSelected.emit(step))
                chip.installEventFilter(self)
                self._layout.insertWidget(i, chip)
                self.chips.append(chip)
            chip = self.chips[i]
            prob = math.exp(log_prob)
            text = piece.replace("▁", "␣") if piece.strip("▁") == "" else piece.lstrip("▁")
            tip = f"step {i + 1}: {piece!r}  p = {prob:.3f}"
            if chip.text() != text or chip.toolTip() != tip:  # restyling is the costly part
                chip.setText(text)
                chip.setToolTip(tip)
                chip.setStyleSheet(CHIP_STYLE % _chip_colour(prob))

    def select(self, step: int | None) -> None:
        for i, chip in enumerate(self.chips):
            chip.setChecked(i == step)
        if step is not None and 0 <= step < len(self.chips):
            self.ensureWidgetVisible(self.chips[step])

    def eventFilter(self, watched, event):
        if event.type() == event.Type.Enter and watched in self.chips:
            self.stepHovered.emit(self.chips.index(watched))
        return super().eventFilter(watched, event)
