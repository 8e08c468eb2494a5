"""Step scores: how sure the model was of each token, as a thin strip and as chip colours.

Four scores per step of the shown hypothesis, read off its view record (TokenStep,
engine/inference_results.py):

- probability p of the chosen token;
- entropy H of the step's distribution, in nats (recorded when the decode asked for it);
- surprisal -ln p, in nats;
- margin: ln p1 - ln p2 of the two most probable candidates, in nats.

Each becomes a confidence in [0, 1] for colour: p, exp(-H) (one over the number of
equally likely choices the distribution is worth), exp(-surprisal) (= p), and
1 - exp(-margin) = 1 - p2 / p1 (0 for a tie). The chips' bands keep their probability thresholds (gui/token_chips.py),
applied to that confidence. ``StepScoreStrip`` draws one cell per step (colour = the
chosen score's confidence, a bar of its size), names the numbers in its tooltip and
selects a step on click; ``scoreChanged`` says which score the chips should follow.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QWidget

from attnscope.gui.decode_state import DecodeState
from attnscope.gui.style import SELECTION_COLOUR, colorize

SCORES = ("probability", "entropy", "surprisal", "margin")
UNITS = {"probability": "", "entropy": " nats", "surprisal": " nats", "margin": " nats"}
STRIP_HEIGHT = 22  # px of the cells
STRIP_COLORMAP = "viridis"  # dark = unsure, bright = sure, as in the heat map
MISSING_COLOUR = "#e6e6e6"  # a step whose score the record does not hold


def step_score(step, name: str) -> float:
    """Score ``name`` of one TokenStep, as its view record gives it (NaN when the record does
    not hold it: the entropy of a decode that did not record it, the margin of a step with
    a single candidate)."""
    if name not in SCORES:
        raise ValueError(f"unknown step score {name!r}; choose one of: {', '.join(SCORES)}")
    value = getattr(step, name)
    return math.nan if value is None else float(value)


def confidence(name: str, value: float) -> float:
    """``value`` of score ``name`` as a confidence in [0, 1] (NaN stays NaN)."""
    if math.isnan(value):
        return math.nan
    if name in ("entropy", "surprisal"):
        return math.exp(-max(value, 0.0))
    if name == "margin":
        return 1.0 - math.exp(-max(value, 0.0))
    return min(max(value, 0.0), 1.0)


def describe_step(step, index: int) -> str:
    """Every score of step ``index`` in one line (the strip's and the chips' tooltip)."""
    parts = []
    for name in SCORES:
        value = step_score(step, name)
        shown = "not recorded" if math.isnan(value) else f"{value:.3f}{UNITS[name]}"
        parts.append(f"{name} {shown}")
    return f"step {index + 1} {step.piece!r}: " + " · ".join(parts)


class StepScoreStrip(QWidget):
    """One cell per step of ``state``'s shown decode, coloured by the chosen score.

    ``stepSelected(step)`` on a click; ``scoreChanged(name)`` when the user picks
    another score (the chips follow it).
    """

    stepSelected = Signal(int)
    scoreChanged = Signal(str)

    def __init__(self, state: DecodeState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.combo = QComboBox()
        self.combo.addItems(list(SCORES))
        self.combo.setToolTip(
            "Which step score colours the strip and the token chips: probability of the "
            "token, entropy of the step, surprisal (-ln p), margin between the top two"
        )
        self.combo.currentTextChanged.connect(self._on_score_changed)
        self.cells = _StripCells(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.addWidget(QLabel("Step scores:"))
        layout.addWidget(self.combo)
        layout.addWidget(self.cells, 1)
        self.setMaximumHeight(STRIP_HEIGHT + 8)
        state.snapshotChanged.connect(self._on_snapshot_changed)
        state.selectedStepChanged.connect(self._on_selected_step_changed)

    def score(self) -> str:
        return self.combo.currentText()

    def set_score(self, name: str) -> None:
        if name not in SCORES:
            raise ValueError(f"unknown step score {name!r}; choose one of: {', '.join(SCORES)}")
        self.combo.setCurrentText(name)

    def values(self) -> np.ndarray:
        """(T,) the chosen score of every shown step (NaN where not recorded)."""
        return self.cells.values.copy()

    def chip_scoring(self):
        """(confidence, tooltip line) of one TokenStep, for TokenChips.set_scoring."""
        name = self.score()

        def scoring(step, index: int) -> tuple[float, str]:
            line = f"colour: {name} · {describe_step(step, index)}"
            return confidence(name, step_score(step, name)), line

        return scoring

    def _on_score_changed(self, name: str) -> None:
        self._redraw()
        self.scoreChanged.emit(name)

    def _on_snapshot_changed(self, _snapshot) -> None:
        self._redraw()

    def _on_selected_step_changed(self, _step) -> None:
        self.cells.selected = self.state.shown_step()
        self.cells.update()

    def _redraw(self) -> None:
        snapshot, name = self.state.snapshot, self.score()
        steps = snapshot.steps if snapshot is not None else ()
        self.cells.values = np.array([step_score(s, name) for s in steps], dtype=np.float64)
        self.cells.confidences = np.array([confidence(name, v) for v in self.cells.values])
        self.cells.tips = [describe_step(s, i) for i, s in enumerate(steps)]
        self.cells.selected = self.state.shown_step()
        self.cells.update()


class _StripCells(QWidget):
    """The painted cells of a StepScoreStrip: colour = confidence, bar height = the same."""

    def __init__(self, strip: StepScoreStrip) -> None:
        super().__init__(strip)
        self.strip = strip
        self.values = np.zeros(0)
        self.confidences = np.zeros(0)
        self.tips: list[str] = []
        self.selected: int | None = None
        self.setMinimumHeight(STRIP_HEIGHT)
        self.setMouseTracking(True)
        self.setToolTip("Each cell is a step; hover for its scores, click to select it")

    def cell_at(self, x: float) -> int | None:
        count = len(self.values)
        if count == 0 or self.width() <= 0:
            return None
        index = int(x * count / self.width())
        return index if 0 <= index < count else None

    def paintEvent(self, _event) -> None:
        count = len(self.values)
        if count == 0:
            return
        painter = QPainter(self)
        width, height = self.width() / count, float(self.height())
        colours = colorize(np.nan_to_num(self.confidences, nan=0.0), STRIP_COLORMAP)
        for i, sure in enumerate(self.confidences):
            cell = QRectF(i * width, 0, width, height)
            if math.isnan(sure):
                painter.fillRect(cell, QColor(MISSING_COLOUR))
                continue
            painter.fillRect(cell, QColor("#f3f3f3"))
            bar = height * max(float(sure), 0.08)  # a sliver stays visible for 0
            painter.fillRect(QRectF(i * width, height - bar, width, bar), QColor(*colours[i]))
        if self.selected is not None and 0 <= self.selected < count:
            pen = QPen(QColor(SELECTION_COLOUR), 2)
            painter.setPen(pen)
            painter.drawRect(QRectF(self.selected * width + 1, 1, width - 2, height - 2))
        painter.end()

    def mouseMoveEvent(self, event) -> None:
        index = self.cell_at(event.position().x())
        if index is not None and index < len(self.tips):
            QToolTip.showText(event.globalPosition().toPoint(), self.tips[index], self)

    def mousePressEvent(self, event) -> None:
        index = self.cell_at(event.position().x())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.strip.stepSelected.emit(index)
