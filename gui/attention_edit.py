"""The text what-if: edit the attention row of the selected step and continue from there.

``AttentionRowEditor`` (gui/attention_row_editor.py) is the panel under the heat map:
one vertical slider per source token showing the selected step's attention (heads
averaged). Right-clicking a cell of the heat map offers "Pin all attention here" and
"Zero and renormalise"; dragging a slider sets that token's weight.

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
from PySide6.QtCore import QObject, QPoint
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QMenu,
)

from attnscope.gui.attention_row_editor import SLIDER_STEPS, AttentionRowEditor
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState, WhatIf
from attnscope.gui.translate_view import TranslateWorkspace, display_piece


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


__all__ = ["SLIDER_STEPS", "AttentionEditor", "AttentionRowEditor", "word_diff"]
