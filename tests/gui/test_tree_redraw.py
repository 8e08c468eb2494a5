"""A growing beam tree is held back only in a stream of snapshots (Run), never on a Step.

The tree dock's redraw used to wait TREE_INTERVAL_S after the last one whenever the tree
grew, so a key press's tree came up to 0.3 s late (the GUI latency bench, issue 22)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from attnscope.gui.decode_state import DecodeState
from attnscope.gui.panels import STREAM_GAP_S, TREE_INTERVAL_S, AnalysisDocks


class Frames:
    """Records the view jobs asked for (the window's FrameScheduler in the app)."""

    def __init__(self) -> None:
        self.requests: list[float] = []

    def request(self, name, job, *, not_before=0.0, priority=0) -> None:
        self.requests.append(not_before)

    def cancel(self, name) -> None:
        pass


class Tree(SimpleNamespace):
    """The arrays of the engine's SearchTree the dock reads, for a chain of ``size`` nodes."""

    def __len__(self) -> int:
        return len(self.tokens)


def snapshot(size: int):
    chain = Tree(
        parent_ids=np.arange(-1, size - 1),
        tokens=np.arange(size),
        scores=np.zeros(size),
        finished=np.zeros(size, bool),
        pruned=np.zeros(size, bool),
        nbest_rank=np.full(size, -1),
    )
    return SimpleNamespace(done=False, tree=chain, best_node=size - 1)


def docks(qtbot) -> tuple[AnalysisDocks, Frames]:
    frames = Frames()
    panel = AnalysisDocks(DecodeState(), frames=frames, translate_view=None)
    panel._drawn_tree = (snapshot(3).tree, 2)  # a tree is on screen, drawn just now
    panel._tree_drawn_at = time.perf_counter()
    return panel, frames


def test_a_step_draws_its_grown_tree_at_once(qtbot):
    panel, frames = docks(qtbot)
    panel._show_tree(snapshot(6))
    panel._tree_asked_at -= STREAM_GAP_S * 1.5  # the next key press comes later than that
    panel._show_tree(snapshot(9))
    assert frames.requests == [0.0, 0.0]


def test_a_run_holds_the_growing_tree_back(qtbot):
    panel, frames = docks(qtbot)
    panel._show_tree(snapshot(6))
    panel._show_tree(snapshot(9))  # the next snapshot of a Run, right behind
    assert frames.requests[0] == 0.0
    assert frames.requests[1] == panel._tree_drawn_at + TREE_INTERVAL_S
