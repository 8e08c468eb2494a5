"""The debugger's wiring in the window: breakpoints, their stops, raw scores, the what-if.

``Debugger`` is handed the state, the worker client, the request state machine,
the translation view and a few callbacks, never the window. It

- sends the Breakpoints dock's checked conditions to the worker (through the state);
- shows a stop: the hit's message stays in the status bar and the dock, the step is
  marked on the heat map, the timeline and its chip, and selected;
- switches the heat map to raw scores (View > Raw attention scores, Ctrl+Shift+W,
  or the heat map's context menu), fetching them once per shown snapshot;
- owns the text what-if (gui/attention_edit.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSizePolicy

from attnscope.gui.attention_edit import AttentionEditor
from attnscope.gui.breakpoints_dock import BreakpointsDock
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.heatmap import SCORES, WEIGHTS
from attnscope.gui.heatmap_items import BREAK_COLOUR
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient

SCORE_CACHE = 16  # snapshots whose raw scores are kept


class Debugger(QObject):
    """Breakpoints, their stops, the raw-score heat map and the attention what-if."""

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        requests: DecodeRequests,
        *,
        translate_view: TranslateWorkspace,
        settings: QSettings,
        select_step: Callable[[int], None],
        show_message: Callable[..., None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.client, self.view, self.settings = state, client, translate_view, settings
        self.requests = requests
        self._select_step = select_step
        self.dock = BreakpointsDock()
        self.dock.restore(settings)
        self.hit_label = QLabel("")
        self.hit_label.setStyleSheet(f"color: {BREAK_COLOUR}; font-weight: bold;")
        self.hit_label.setToolTip("The breakpoint that stopped the decode (Run resumes)")
        # a long message is cut at the window's edge (whole in the tooltip and the dock)
        self.hit_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.scores_action = QAction("Raw attention &scores", self)
        self.scores_action.setCheckable(True)
        self.scores_action.setShortcut(QKeySequence("Ctrl+Shift+W"))
        tip = "Heat map: raw pre-softmax scores instead of weights (Ctrl+Shift+W)"
        self.scores_action.setToolTip(tip)
        self.scores_action.setStatusTip(tip)
        self.scores_action.toggled.connect(self.show_scores)
        self._scores: OrderedDict[tuple[int, ...], object] = OrderedDict()  # tokens -> (T,h,S)
        self._asked_for: tuple[int, ...] | None = None
        self.what_if = AttentionEditor(
            state,
            requests,
            translate_view=translate_view,
            select_step=select_step,
            show_message=show_message,
            parent=self,
        )
        self.what_if.extra_menu_actions.append(self.scores_action)
        heatmap = translate_view.heatmap
        heatmap.valueKindChanged.connect(lambda k: self.scores_action.setChecked(k == SCORES))
        self.dock.changed.connect(self._on_dock_changed)
        self._sync_coverage_bands()
        state.summaryChanged.connect(self._on_summary_changed)
        state.breakpointsChanged.connect(self._on_breakpoints_changed)
        state.breakpointHitChanged.connect(self._on_breakpoint_hit_changed)
        state.snapshotChanged.connect(self._on_snapshot_changed)
        worker = client.worker
        worker.breakpointHit.connect(self._on_worker_hit)
        worker.whatIfBase.connect(self.what_if.original_arrived)
        worker.scoresReady.connect(self._on_scores_ready)
        state.set_breakpoints(self.dock.condition_dicts())  # sent once a model is loaded

    @property
    def actions(self) -> list[QAction]:
        """The Decode menu's debugger entries."""
        return [self.what_if.apply_action, self.what_if.undo_action]

    # -- breakpoints ------------------------------------------------------------------
    def _on_dock_changed(self) -> None:
        self.dock.save(self.settings)
        self.state.set_breakpoints(self.dock.condition_dicts())
        self._sync_coverage_bands()

    def restore_breakpoints(self, conditions) -> None:
        """Put an opened session's conditions (engine objects) into the dock, which sends
        them to the worker and keeps them in the settings as any edit does."""
        self.dock.set_conditions([condition.to_dict() for condition in conditions])

    def _sync_coverage_bands(self) -> None:
        """The coverage bar's colours follow the dock's uncovered and over-covered limits."""
        under = self.dock.value("uncovered_at_eos", "threshold")
        over = self.dock.value("over_covered", "tau")
        if under < over:
            self.view.heatmap.coverage_bar().set_thresholds(under, over)

    def _on_breakpoints_changed(self, conditions) -> None:
        if self.state.summary is not None:  # the worker imports the engine for them
            self.client.set_breakpoints(conditions)

    def _on_summary_changed(self, summary) -> None:
        self.dock.set_vocabulary(summary.piece_to_id if summary is not None else None)
        self._scores.clear()
        if summary is not None:
            self.state.set_breakpoints(self.dock.condition_dicts())
            self.client.set_breakpoints(self.state.breakpoints)

    def _on_worker_hit(self, hit) -> None:
        """A breakpoint stopped the decode (its snapshot has arrived just before)."""
        self.requests.stopped_at_breakpoint(hit)

    def _on_breakpoint_hit_changed(self, hit) -> None:
        if hit is None:
            self.hit_label.setText("")
            self.hit_label.setToolTip("The breakpoint that stopped the decode (Run resumes)")
            self.dock.show_hit("")
            self.view.mark_step(None)
            return
        text = f"Breakpoint ({hit.condition}): {hit.message}"
        self.hit_label.setText(f"■ {text}")
        self.hit_label.setToolTip(f"{text}\nRun (F5) resumes from here.")
        self.dock.show_hit(text)
        self.view.mark_step(hit.step, text)
        self._select_step(hit.step)

    # -- raw scores ---------------------------------------------------------------------
    def show_scores(self, on: bool) -> None:
        """Heat map: raw scores (fetched from the worker) when ``on``, else weights."""
        self.view.heatmap.set_value_kind(SCORES if on else WEIGHTS)
        self._asked_for = None  # a request that failed is not waited for
        if on:
            self._on_snapshot_changed(self.state.snapshot)

    def _on_snapshot_changed(self, snapshot) -> None:
        if snapshot is None or not self.scores_action.isChecked() or snapshot.attention is None:
            return
        tokens = tuple(step.token_id for step in snapshot.steps)
        cached = self._scores.get(tokens)
        if cached is not None:
            self.view.heatmap.set_scores(cached)
        elif self._asked_for is None:  # one request at a time; the answer asks again
            self._asked_for = tokens
            self.client.attention_scores()

    def _on_scores_ready(self, answer) -> None:
        tokens, scores = answer
        self._asked_for = None
        self._scores[tuple(tokens)] = scores
        while len(self._scores) > SCORE_CACHE:
            self._scores.popitem(last=False)
        snapshot = self.state.snapshot
        if snapshot is None:
            return
        shown = tuple(step.token_id for step in snapshot.steps)
        if shown[: len(tokens)] == tuple(tokens):
            self.view.heatmap.set_scores(scores)
        if shown != tuple(tokens):
            self._on_snapshot_changed(snapshot)  # the decode moved on: ask again
