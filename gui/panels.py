"""The analysis docks: candidates of the selected step and the beam search tree."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, Qt

from attnscope.gui.beam_tree import BeamNode, QtBeamTreeView
from attnscope.gui.candidates import QtCandidatesPanel
from attnscope.gui.translate_view import display_piece

TREE_INTERVAL_S = 0.3  # a growing beam tree is redrawn at most ~3 times a second


def beam_nodes(snapshot) -> list[BeamNode]:
    """The engine's SearchTree as the view's BeamNodes (root = node 0)."""
    tree = snapshot.tree
    nodes = []
    for node_id in range(len(tree)):
        if tree.nbest_rank[node_id] >= 0:
            status = "nbest"
        elif tree.finished[node_id]:
            status = "finished"
        elif tree.pruned[node_id]:
            status = "pruned"
        else:
            status = "alive"
        parent = int(tree.parent_ids[node_id])
        nodes.append(
            BeamNode(
                id=node_id,
                parent=None if parent < 0 else parent,
                token=display_piece(snapshot.node_pieces[node_id]),
                score=float(tree.scores[node_id]),
                step=int(tree.steps[node_id]) + 1,
                status=status,
            )
        )
    return nodes


class AnalysisDocks(QObject):
    """Owns the candidates and beam docks of a main window and keeps them in sync."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.candidates = QtCandidatesPanel()
        self.beam_tree = QtBeamTreeView()
        window.docks["candidates"] = window._dock(
            "Candidates", self.candidates, Qt.RightDockWidgetArea
        )
        window.docks["beam"] = window._dock("Beam search", self.beam_tree, Qt.RightDockWidgetArea)
        self.candidates.candidateActivated.connect(window.force_token)
        self.candidates.tokenTyped.connect(window.force_typed_token)
        self.beam_tree.nodeSelected.connect(self._on_node_selected)
        self._tree_size = -1
        self._tree_drawn_at = 0.0
        self._candidates_key = None
        self._vocab_for = None

    def show_snapshot(self, snapshot, selected: int | None) -> None:
        summary = self.window.summary
        if summary is not None and self._vocab_for is not summary:
            self._vocab_for = summary
            self.candidates.set_vocabulary([p for p in summary.target_vocab if p])
        self._show_candidates(snapshot, selected)
        self._show_tree(snapshot)

    def _show_candidates(self, snapshot, selected: int | None) -> None:
        if selected is None or not snapshot.steps:
            self._candidates_key = None
            self.candidates.clear()
            return
        step = snapshot.steps[selected]
        key = (selected, step.token_id, step.topk_ids.tobytes(), step.topk_probs.tobytes())
        if key == self._candidates_key:  # unchanged: skip rebuilding the table
            return
        self._candidates_key = key
        self.candidates.set_topk(
            step.topk_ids,
            [display_piece(p) for p in step.topk_pieces],
            step.topk_probs,
            chosen_id=step.token_id,
            step=selected,
        )

    def _show_tree(self, snapshot) -> None:
        """Redraw the beam tree; while a beam grows, at most every TREE_INTERVAL_S."""
        if snapshot.tree is None:
            if self._tree_size != 0:
                self.beam_tree.set_tree([])
                self._tree_size = 0
            return
        size = len(snapshot.tree)
        now = time.perf_counter()
        growing = self._tree_size < size and not snapshot.done
        if size == self._tree_size or (
            growing and now - self._tree_drawn_at < TREE_INTERVAL_S and self._tree_size > 1
        ):
            return
        self.beam_tree.set_tree(beam_nodes(snapshot))
        self._tree_size = size
        self._tree_drawn_at = now
        self.beam_tree.select(snapshot.best_node if snapshot.best_node else None)

    def _on_node_selected(self, node_id: int) -> None:
        """Show the chosen hypothesis's attention in the heat map."""
        snapshot = self.window.snapshot
        if snapshot is None or snapshot.tree is None or snapshot.node_attention is None:
            return
        self.beam_tree.select(node_id)
        path = snapshot.tree.path(node_id)
        if not path:
            return
        heatmap = self.window.translate_view.heatmap
        heatmap.set_tokens(
            list(heatmap.source_tokens()), [display_piece(snapshot.node_pieces[n]) for n in path]
        )
        heatmap.set_heads(np.ascontiguousarray(snapshot.node_attention[path]))
        self.window.translate_view._shown_rows = -1  # next snapshot redraws fully


def attach_analysis_docks(window) -> None:
    window.analysis = AnalysisDocks(window)
