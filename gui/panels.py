"""The analysis docks: candidates of the selected step and the beam search tree."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt

from attnscope.gui.beam_tree import BeamNode, QtBeamTreeView
from attnscope.gui.candidates import QtCandidatesPanel
from attnscope.gui.translate_view import display_piece


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
        self._vocab_for = None

    def show_snapshot(self, snapshot, selected: int | None) -> None:
        summary = self.window.summary
        if summary is not None and self._vocab_for is not summary:
            self._vocab_for = summary
            self.candidates.set_vocabulary([p for p in summary.target_vocab if p])
        if selected is None or not snapshot.steps:
            self.candidates.clear()
        else:
            step = snapshot.steps[selected]
            self.candidates.set_topk(
                step.topk_ids,
                [display_piece(p) for p in step.topk_pieces],
                step.topk_probs,
                chosen_id=step.token_id,
                step=selected,
            )
        if snapshot.tree is None:
            if self._tree_size != 0:
                self.beam_tree.set_tree([])
                self._tree_size = 0
        elif len(snapshot.tree) != self._tree_size or snapshot.done:
            self.beam_tree.set_tree(beam_nodes(snapshot))
            self._tree_size = len(snapshot.tree)
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
