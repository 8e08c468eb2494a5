"""Compare mode's workspace: two models' decodes of one input, side by side.

``CompareView`` is handed ComparePairs (gui/compare_worker.py) and draws them: two
panes (gui/compare_pane.py) whose heat maps share the source axis (panning or
zooming one moves the other), the word diff of the two outputs, the cross-scores on
the chips, and under them, once both are done, engine/compare's AttentionComparison:
the difference map and the attention per source column, on pieces when both models
cut the text alike, on words otherwise. Its own Step / Run / Back / Reset actions (the
window's shortcuts: the window disables its own while compare mode is on) and Leave
are signals; gui/compare_mode.py sends them to the worker.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from attnscope.engine.decode_diff import diff_outputs
from attnscope.gui.compare_maps import A_COLOUR, B_COLOUR, AttentionShareChart, DifferenceMap
from attnscope.gui.compare_pane import ComparePane

NOTHING_TO_MAP = "{name} has no attention, so there is no attention to compare."
WAITING_FOR_MAP = (
    "The attention comparison follows when both decodes are done "
    "(A's output is then forced through both models)."
)


def _action(parent: QWidget, text: str, key: str, tip: str) -> QAction:
    action = QAction(text, parent)
    action.setShortcut(QKeySequence(key))
    action.setToolTip(f"{tip} ({action.shortcut().toString()})")
    action.setStatusTip(tip)
    return action


def changed_steps(diff) -> tuple[frozenset[int], frozenset[int]]:
    """The decode steps of A's and of B's words that the other output does not have."""
    a_steps: set[int] = set()
    b_steps: set[int] = set()
    for op in diff.ops:
        if op.kind != "equal":
            a_steps.update(step for word in op.before for step in word.steps)
            b_steps.update(step for word in op.after for step in word.steps)
    return frozenset(a_steps), frozenset(b_steps)


class CompareView(QWidget):
    """Two decodes of one source; emits the user's requests as signals."""

    stepRequested = Signal()
    runToggled = Signal(bool)
    backRequested = Signal()
    resetRequested = Signal()
    leaveRequested = Signal()
    stepSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_actions()
        self.source = QPlainTextEdit()
        self.source.setToolTip("The source both models decode; Step or Run after an edit")
        self.source.setMaximumHeight(self.source.fontMetrics().lineSpacing() * 2 + 16)
        self.panes = (ComparePane("A", A_COLOUR), ComparePane("B", B_COLOUR))
        for pane in self.panes:
            pane.stepSelected.connect(self.select_step)
        self.diff_label = QLabel()
        self.diff_label.setWordWrap(True)
        self.diff_label.setToolTip("How B's output differs from A's, word by word")
        self.difference = DifferenceMap()
        self.shares = AttentionShareChart()
        self.maps = QTabWidget()
        self.maps.addTab(self.difference, "Difference map")
        self.maps.addTab(self.shares, "Attention per source word")
        self.maps.setToolTip("How the two attentions differ")
        self.no_map = QLabel()
        self.no_map.setStyleSheet("color: palette(mid); padding: 2px;")
        self.pair = None
        self.linked = False  # are the two heat maps' source axes linked?
        self.names = ("A", "B")
        self._selected: int | None = None
        self._layout_widgets()

    def _build_actions(self) -> None:
        self.step_action = _action(self, "Step", "F10", "Decode one more token with both models")
        self.run_action = _action(self, "Run", "F5", "Both models to the end; again to pause")
        self.run_action.setCheckable(True)
        self.back_action = _action(self, "Back", "Shift+F10", "Undo the last step of both")
        self.reset_action = _action(self, "Reset", "Esc", "Both decodes back to the start")
        self.leave_action = _action(
            self, "Leave compare", "Ctrl+Shift+C", "Back to the single view, as it was"
        )
        self.step_action.triggered.connect(self.stepRequested)
        self.run_action.toggled.connect(self.runToggled)
        self.back_action.triggered.connect(self.backRequested)
        self.reset_action.triggered.connect(self.resetRequested)
        self.leave_action.triggered.connect(self.leaveRequested)
        self.actions_all = [
            self.step_action,
            self.run_action,
            self.back_action,
            self.reset_action,
            self.leave_action,
        ]
        self.toolbar = QToolBar("Compare")
        self.toolbar.addActions(self.actions_all[:4])
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.leave_action)
        self.numbers = QCheckBox("Log-probs on chips")
        self.numbers.setToolTip(
            "Write on each chip its own log-prob and the other model's (own | other)"
        )
        self.numbers.setChecked(True)
        self.numbers.toggled.connect(self._on_numbers_toggled)
        self.toolbar.addWidget(self.numbers)
        self.addActions(self.actions_all)

    def _layout_widgets(self) -> None:
        sides = QSplitter(Qt.Horizontal)
        for pane in self.panes:
            sides.addWidget(pane)
        splitter = QSplitter(Qt.Vertical)
        splitter.addWidget(sides)
        splitter.addWidget(self.maps)  # hidden when there is no attention to compare
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.source)
        layout.addWidget(self.diff_label)
        layout.addWidget(self.no_map)
        layout.addWidget(splitter, 1)
        self._on_numbers_toggled(self.numbers.isChecked())

    def set_models(self, summary_a, summary_b) -> None:
        """Name both sides; a captioner has no source text to edit."""
        self.names = (summary_a.name, summary_b.name)
        for pane, summary in zip(self.panes, (summary_a, summary_b), strict=True):
            pane.set_model(summary)
        self.source.setVisible(summary_a.task == "translation")
        self.pair = None

    def set_source_text(self, text: str) -> None:
        self.source.setPlainText(text)

    def source_text(self) -> str:
        return self.source.toPlainText()

    def show_pair(self, pair) -> None:
        """Draw a ComparePair: both panes, the diff, and the map under them."""
        self.pair = pair
        a, b = pair.a, pair.b
        # engine/compare's word_diff is this call, but importing that package loads torch,
        # which the window must not do at start-up (tests/gui/test_startup_imports.py)
        diff = diff_outputs(
            a.target_pieces[: len(a.steps)],
            [s.log_prob for s in a.steps],
            b.target_pieces[: len(b.steps)],
            [s.log_prob for s in b.steps],
        )
        a_changed, b_changed = changed_steps(diff)
        selected = self._shown_step()
        self.panes[0].show_snapshot(a, selected, changed_steps=a_changed, report=pair.a_by_b)
        self.panes[1].show_snapshot(b, selected, changed_steps=b_changed, report=pair.b_by_a)
        self.diff_label.setText(self._diff_text(diff))
        self._show_maps(pair)
        if a.done and b.done:
            self.run_action.setChecked(False)

    def select_step(self, step: int) -> None:
        """Select step ``step`` in both panes (the same step of the lockstep decode)."""
        self._selected = step
        for pane in self.panes:
            pane.select_step(step)
        self.stepSelected.emit(step)

    def _shown_step(self) -> int | None:
        if self.pair is None or self._selected is None:
            return None
        longest = max(len(self.pair.a.steps), len(self.pair.b.steps))
        return self._selected if self._selected < longest else None

    def _diff_text(self, diff) -> str:
        if not diff.before and not diff.after:
            return ""
        if not diff.changed:
            return "Both models say the same words."
        return f"B against A: {diff.describe()}"

    def _show_maps(self, pair) -> None:
        """The attention comparison under the panes once both decodes are done; until
        then (or without one) a line saying why there is none."""
        a, b = pair.a, pair.b
        same_source = a.grid is None and a.source_pieces == b.source_pieces
        self._link_source_axes(same_source and a.num_heads > 0 and b.num_heads > 0)
        comparison = pair.attention
        if comparison is None:
            self.maps.hide()
            without = [n for n, s in zip(self.names, (a, b), strict=True) if s.num_heads == 0]
            if without:
                text = NOTHING_TO_MAP.format(name=" and ".join(without))
            elif a.done and b.done:
                text = "; ".join(pair.notes)
            else:
                text = WAITING_FOR_MAP
            self.no_map.setText(text)
            self.no_map.setVisible(bool(text))
            return
        self.no_map.hide()
        self.maps.show()
        level = comparison.level  # "piece", or "word" across two tokenizers
        self.maps.setTabText(0, f"Difference map ({level})")
        self.maps.setTabText(1, f"Attention per source {level}")
        self.difference.show_comparison(comparison)
        self.shares.show_comparison(comparison, self.names)

    def _link_source_axes(self, linked: bool) -> None:
        """One source axis for both heat maps (panning or zooming one moves the other)
        while both show the same source pieces."""
        first, second = (pane.heatmap.plot_widget() for pane in self.panes)
        if self.linked != linked:
            second.setXLink(first if linked else None)
            self.linked = linked

    def _on_numbers_toggled(self, on: bool) -> None:
        for pane in self.panes:
            pane.show_numbers = on
            pane.chips.setFixedHeight(64 if on else 52)
        if self.pair is not None:
            self.show_pair(self.pair)
