"""The analysis docks: candidates of the selected step and the beam search tree."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject

from attnscope.gui.beam_tree import BeamNode, QtBeamTreeView
from attnscope.gui.candidates import QtCandidatesPanel
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.frame_scheduler import FrameScheduler
from attnscope.gui.translate_view import TranslateWorkspace, display_piece

TREE_INTERVAL_S = 0.3  # a growing beam tree is redrawn at most ~3 times a second during Run
# Snapshots closer together than this are a stream (Run, a held key), not single steps: only
# then is the tree's redraw held back. A Step the user presses draws its tree at once.
STREAM_GAP_S = 0.12
# The candidates and the tree are drawn as view jobs of their own (the window's
# FrameScheduler): their updates and repaints never add to the frame that painted the heat map.
TREE_JOB = "tree"
CANDIDATES_JOB = "candidates"
TREE_PRIORITY = 1  # after a waiting snapshot: the new row is what the user waits for
TREE_CHUNK_NODES = 30  # new nodes added per tree job; more are added by the jobs after it
_TREE_ARRAYS = ("parent_ids", "tokens", "scores", "finished", "pruned", "nbest_rank")


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
    """The candidates and beam tree widgets of one decode, kept in sync with its state.

    The owner puts ``candidates`` and ``beam_tree`` in docks. Their redraws are view
    jobs of ``frames`` (the window's FrameScheduler); choosing a beam node shows that
    hypothesis in ``translate_view``'s heat map.
    """

    def __init__(
        self,
        state: DecodeState,
        *,
        frames: FrameScheduler,
        translate_view: TranslateWorkspace,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.frames = frames
        self.translate_view = translate_view
        self.candidates = QtCandidatesPanel()
        self.beam_tree = QtBeamTreeView()
        self.beam_tree.nodeSelected.connect(self._on_node_selected)
        self._drawn_tree = None  # (tree, best node) on screen; tree None = empty
        self._pending_tree = None  # the snapshot whose tree waits for its view job
        self._tree_drawn_at = 0.0
        self._tree_asked_at = -STREAM_GAP_S  # when the last snapshot's tree was asked for
        self._candidates_key = None
        self._pending_candidates = None  # (snapshot, selected step) waiting for its view job
        state.summaryChanged.connect(self._on_summary_changed)

    def _on_summary_changed(self, summary) -> None:
        """Another model: its vocabulary for typed tokens; the old candidates go."""
        self._pending_candidates, self._candidates_key = None, None
        self.candidates.clear()
        self.candidates.set_vocabulary([p for p in summary.target_vocab if p] if summary else [])

    def show_snapshot(self, snapshot, selected: int | None) -> None:
        """Queue the candidates of step ``selected`` and the beam tree of ``snapshot``.

        Both are view jobs of their own (the window's FrameScheduler), so their
        updates and repaints never add to the frame that drew the heat map.
        """
        self._pending_candidates = (snapshot, selected)
        self.frames.request(CANDIDATES_JOB, self._draw_pending_candidates)
        self._show_tree(snapshot)

    def _draw_pending_candidates(self) -> None:
        pending, self._pending_candidates = self._pending_candidates, None
        if pending is not None:
            self._show_candidates(*pending)

    def _show_candidates(self, snapshot, selected: int | None) -> None:
        if selected is None or not 0 <= selected < len(snapshot.steps):
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
        """Queue the beam tree of ``snapshot`` as a view job; while a beam grows in a stream
        of snapshots (Run), at most every TREE_INTERVAL_S. The latest snapshot wins."""
        frames = self.frames
        now = time.perf_counter()
        streaming = now - self._tree_asked_at < STREAM_GAP_S
        self._tree_asked_at = now
        if self._is_drawn(snapshot):
            self._pending_tree = None
            frames.cancel(TREE_JOB)
            return
        self._pending_tree = snapshot
        drawn = self._drawn_tree[0] if self._drawn_tree else None
        held_back = (  # a beam growing during Run: redrawn every TREE_INTERVAL_S at most
            streaming
            and not snapshot.done
            and snapshot.tree is not None
            and drawn is not None
            and len(drawn) > 1
            and len(snapshot.tree) > len(drawn)
        )
        not_before = self._tree_drawn_at + TREE_INTERVAL_S if held_back else 0.0
        frames.request(
            TREE_JOB, self._draw_pending_tree, not_before=not_before, priority=TREE_PRIORITY
        )

    def _is_drawn(self, snapshot) -> bool:
        """The view already shows ``snapshot``'s tree with its best node selected."""
        if self._drawn_tree is None:
            return False
        tree, best = self._drawn_tree
        new = snapshot.tree
        if new is None or tree is None:
            return new is tree
        return (
            best == snapshot.best_node
            and len(new) == len(tree)
            and all(np.array_equal(getattr(new, a), getattr(tree, a)) for a in _TREE_ARRAYS)
        )

    def _draw_pending_tree(self, *, whole: bool = False) -> None:
        """Draw the waiting tree; a tree that grew by more than TREE_CHUNK_NODES (node ids
        run step by step, so any prefix is a tree) is drawn over several jobs, unless
        ``whole``."""
        snapshot = self._pending_tree
        if snapshot is None:
            return
        nodes = beam_nodes(snapshot) if snapshot.tree is not None else []
        drawn = self.beam_tree.node_count()
        if not whole and drawn and len(nodes) > drawn + TREE_CHUNK_NODES:
            self.beam_tree.set_tree(nodes[: drawn + TREE_CHUNK_NODES])
            self._drawn_tree = None  # part of a tree: not what any snapshot shows
            self.frames.request(TREE_JOB, self._draw_pending_tree, priority=TREE_PRIORITY)
            return
        self._pending_tree = None
        self.beam_tree.set_tree(nodes)
        if nodes:
            self.beam_tree.select(snapshot.best_node if snapshot.best_node else None)
        self._drawn_tree = (snapshot.tree, snapshot.best_node)
        self._tree_drawn_at = time.perf_counter()

    def _on_node_selected(self, node_id: int) -> None:
        """Show the chosen hypothesis's attention in the heat map."""
        snapshot = self.state.snapshot
        if snapshot is None or snapshot.tree is None or snapshot.node_attention is None:
            return
        if self._pending_tree is not None:  # a waiting redraw first: the node may be new
            self.frames.cancel(TREE_JOB)
            self._draw_pending_tree(whole=True)
        self.beam_tree.select(node_id)
        path = snapshot.tree.path(node_id)
        if not path:
            return
        heatmap = self.translate_view.heatmap
        heatmap.set_tokens(
            list(heatmap.source_tokens()), [display_piece(snapshot.node_pieces[n]) for n in path]
        )
        heatmap.set_heads(
            np.ascontiguousarray(snapshot.node_attention[path]),
            layers=snapshot.num_layers,
            source_mixing=snapshot.source_mixing,
        )
        self.translate_view._shown_rows = -1  # next snapshot redraws fully
