"""One side of compare mode: a model's output, its chips and its attention.

``ComparePane`` draws one SessionSnapshot the way the single view does (the same
heat map widget, the same chips, the same picture overlay for a captioner) and adds
what only a comparison has: chips whose words the other model did not say are
coloured, and each chip's tooltip (and, when asked, its text) carries the other
model's log-prob of that token, i.e. the cross-score.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from attnscope.engine.decode_diff import group_words
from attnscope.engine.pieces import EOS_PIECE, WORD_START
from attnscope.gui.heatmap import QtAttentionHeatmap
from attnscope.gui.image_overlay import QtImageAttentionOverlay
from attnscope.gui.token_chips import TokenChips
from attnscope.gui.translate_view import display_piece

DIFF_CHIP_STYLE = "QToolButton {{background:#fde7a7; border:2px solid {colour};}}"
NO_ATTENTION = "{name} has no attention: its decoder reads only the encoder's final state."


def cross_log_probs(snapshot, report) -> list[float | None]:
    """Per step of ``snapshot``: the other model's log-prob of that token, or of the word
    the token belongs to (on the word's first token) when the two tokenizers cut the
    output differently; None where neither lines up (or without a report)."""
    steps = len(snapshot.steps)
    if report is None:
        return [None] * steps
    own = tuple(snapshot.target_pieces[:steps])
    if tuple(report.pieces[: len(own)]) == own:  # one tokenizer: token by token
        return [float(v) for v in report.token_log_probs[:steps]]
    mine = group_words(own, [s.log_prob for s in snapshot.steps])
    theirs = group_words(report.pieces, report.token_log_probs)
    values: list[float | None] = [None] * steps
    if [w.text.lstrip(WORD_START) for w in mine] == [w.text.lstrip(WORD_START) for w in theirs]:
        for word, other in zip(mine, theirs, strict=True):
            values[word.steps[0]] = math.log(max(other.probability, 1e-300))
    if own and own[-1] == EOS_PIECE and report.pieces and report.pieces[-1] == EOS_PIECE:
        values[-1] = float(report.token_log_probs[-1])
    return values


class ComparePane(QWidget):
    """One model's side: a title, the output text, chips and the attention view."""

    stepSelected = Signal(int)

    def __init__(self, letter: str, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.letter, self.colour = letter, colour
        self.title = QLabel(f"Model {letter}")
        self.title.setStyleSheet(f"font-weight:bold; color:{colour}; padding:2px;")
        self.title.setWordWrap(True)
        self.output = QLabel()
        self.output.setWordWrap(True)
        self.output.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.output.setStyleSheet("font-size: 14px; padding: 2px;")
        self.output.setToolTip(
            "This model's output so far; words the other model did not say are marked on the chips"
        )
        self.chips = TokenChips()
        self.chips.setToolTip(
            "Output tokens: hover for this model's probability and the other model's "
            "log-prob of the same token (cross-score); coloured chips differ from the other"
        )
        self.chips.stepSelected.connect(self.stepSelected)
        self.heatmap = QtAttentionHeatmap()
        self.heatmap.rowSelected.connect(self.stepSelected)
        self.overlay: QtImageAttentionOverlay | None = None  # made for a captioner's first picture
        self.no_attention = QLabel()
        self.no_attention.setAlignment(Qt.AlignCenter)
        self.no_attention.setWordWrap(True)
        self.no_attention.setStyleSheet("color: palette(mid); font-size: 13px; padding: 16px;")
        self.pages = QStackedWidget()
        for page in (self.heatmap, self.no_attention):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        for widget in (self.title, self.output, self.chips):
            layout.addWidget(widget)
        layout.addWidget(self.pages, 1)
        self.snapshot = None
        self.cross: list[float | None] = []
        self.show_numbers = False
        self._name = f"Model {letter}"

    def set_model(self, summary) -> None:
        """Name the side after its checkpoint: name and attention kind."""
        self._name = summary.name
        self.title.setText(f"{self.letter} · {summary.name} ({summary.attention} attention)")
        self.title.setToolTip(summary.path)

    def show_snapshot(self, snapshot, selected: int | None, *, changed_steps=(), report=None):
        """Draw ``snapshot``; ``changed_steps``: steps of words the other output lacks;
        ``report``: the other model's ReferenceReport on this output (cross-scores)."""
        self.snapshot = snapshot
        self.cross = cross_log_probs(snapshot, report)
        self._show_title(snapshot, report)
        self.output.setText(snapshot.target_text or "<i>(nothing yet)</i>")
        self._show_chips(snapshot, frozenset(changed_steps))
        if snapshot.num_heads == 0 or (snapshot.attention is None and snapshot.steps):
            self.no_attention.setText(NO_ATTENTION.format(name=self._name))
            self.pages.setCurrentWidget(self.no_attention)
        elif snapshot.grid is not None:
            self.pages.setCurrentWidget(self._overlay())
            self.overlay.set_image(snapshot.image)
        else:
            self.pages.setCurrentWidget(self.heatmap)
            self._show_heatmap(snapshot)
        self.select_step(selected)

    def select_step(self, step: int | None) -> None:
        """Show step ``step`` selected (None: the newest)."""
        snapshot = self.snapshot
        if snapshot is None:
            return
        rows = 0 if snapshot.attention is None else snapshot.attention.shape[0]
        shown = min(step, rows - 1) if step is not None else rows - 1
        self.chips.select(step)
        if shown < 0:
            if snapshot.grid is not None:
                self._overlay().set_attention(None)
            return
        if snapshot.grid is not None:
            h, w = snapshot.grid
            grid = snapshot.attention[shown].mean(axis=0).reshape(h, w)  # heads averaged
            self._overlay().set_attention(grid)
        elif step is not None and step < rows:
            self.heatmap.select_row(step)

    def _overlay(self) -> QtImageAttentionOverlay:
        """The picture overlay, made on first use: its controls would widen every
        translation comparison's minimum width."""
        if self.overlay is None:
            self.overlay = QtImageAttentionOverlay()
            self.pages.addWidget(self.overlay)
        return self.overlay

    def _show_title(self, snapshot, report) -> None:
        own = sum(s.log_prob for s in snapshot.steps)
        text = f"{self.letter} · {self._name}: log p {own:.2f} by itself"
        if report is not None:
            other = "B" if self.letter == "A" else "A"
            text += f", {report.log_prob:.2f} by {other}"
        self.title.setText(text)

    def _show_heatmap(self, snapshot) -> None:
        attention = snapshot.attention
        if attention is None:  # no step yet
            self.heatmap.clear()
            return
        rows = attention.shape[0]
        source = [display_piece(p) for p in snapshot.source_pieces]
        target = [display_piece(p) for p in snapshot.target_pieces[:rows]]
        self.heatmap.set_tokens(source, target)
        self.heatmap.set_heads(
            np.ascontiguousarray(attention, dtype=np.float32),
            layers=snapshot.num_layers,
            source_mixing=snapshot.source_mixing,
        )

    def _show_chips(self, snapshot, changed: frozenset[int]) -> None:
        steps = snapshot.steps
        self.chips.set_tokens(list(snapshot.target_pieces), [s.log_prob for s in steps], steps)
        other = "B" if self.letter == "A" else "A"
        for index, chip in enumerate(self.chips.chips):
            cross = self.cross[index] if index < len(self.cross) else None
            tip = chip.toolTip().split("\n— ")[0]
            if cross is not None:
                tip += f"\n— model {other}: log p = {cross:.2f} (own {steps[index].log_prob:.2f})"
                if self.show_numbers:
                    piece = chip.text().split("\n")[0]
                    chip.setText(f"{piece}\n{steps[index].log_prob:.1f} | {cross:.1f}")
            if index in changed:
                tip += f"\n— not in model {other}'s output"
            chip.setToolTip(tip)
            style = DIFF_CHIP_STYLE.format(colour=self.colour) if index in changed else ""
            if chip.styleSheet() != style:
                chip.setStyleSheet(style)
