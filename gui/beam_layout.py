"""The beam tree's data and geometry, apart from its drawing (gui/beam_tree.py).

``BeamNode`` records come from the engine's search tree; ``validate_tree``
checks them; ``layout_tree`` places each node: x = step, y = the node's rank
among its step in a depth-first walk that visits higher-scoring children
first, so edges never cross.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6 import QtCore, QtGui

STATUSES = ("alive", "pruned", "finished", "nbest")
STEP_WIDTH = 120.0  # scene units between step columns
ROW_HEIGHT = 48.0  # scene units between nodes of one step
BOX = QtCore.QRectF(-48.0, -18.0, 96.0, 36.0)  # node box around its centre


@dataclass(frozen=True)
class BeamNode:
    """One hypothesis prefix: ``token`` appended at ``step`` to ``parent`` (None for the root).

    score: cumulative log-probability of the prefix (higher is better).
    status: one of ``STATUSES``.
    """

    id: int
    parent: int | None
    token: str
    score: float
    step: int
    status: str = "alive"


def validate_tree(nodes: Iterable[BeamNode]) -> dict[int, BeamNode]:
    """Nodes by id; raises ValueError for duplicate ids, unknown parents/statuses or steps
    that do not increase from parent to child."""
    by_id: dict[int, BeamNode] = {}
    for node in nodes:
        if node.id in by_id:
            raise ValueError(f"duplicate beam node id {node.id}")
        if node.status not in STATUSES:
            raise ValueError(
                f"node {node.id} has unknown status {node.status!r}; use one of {STATUSES}"
            )
        by_id[node.id] = node
    for node in by_id.values():
        if node.parent is None:
            continue
        parent = by_id.get(node.parent)
        if parent is None:
            raise ValueError(f"node {node.id} names parent {node.parent}, which is not in the tree")
        if parent.step >= node.step:
            raise ValueError(
                f"node {node.id} (step {node.step}) is not after its parent (step {parent.step})"
            )
    return by_id


def layout_tree(by_id: dict[int, BeamNode]) -> dict[int, QtCore.QPointF]:
    """Scene position of each node's centre: x from the step, y from depth-first rank."""
    children: dict[int | None, list[BeamNode]] = {}
    for node in by_id.values():
        children.setdefault(node.parent, []).append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: (-n.score, n.id))
    order: dict[int, list[int]] = {}  # step -> node ids top to bottom
    stack = list(reversed(children.get(None, [])))
    while stack:
        node = stack.pop()
        order.setdefault(node.step, []).append(node.id)
        stack.extend(reversed(children.get(node.id, [])))
    positions = {}
    for step, ids in order.items():
        middle = (len(ids) - 1) / 2.0
        for rank, node_id in enumerate(ids):
            positions[node_id] = QtCore.QPointF(step * STEP_WIDTH, (rank - middle) * ROW_HEIGHT)
    return positions


def edge_path(start: QtCore.QPointF, end: QtCore.QPointF) -> QtGui.QPainterPath:
    """A horizontal S-curve from the right side of one box to the left side of the next."""
    a = start + QtCore.QPointF(BOX.right(), 0)
    b = end + QtCore.QPointF(BOX.left(), 0)
    bend = (b.x() - a.x()) / 2.0
    path = QtGui.QPainterPath(a)
    path.cubicTo(a + QtCore.QPointF(bend, 0), b - QtCore.QPointF(bend, 0), b)
    return path


def scene_bounds(centres: Iterable[QtCore.QPointF]) -> QtCore.QRectF:
    """The scene rectangle holding every node box (with a margin)."""
    xs, ys = [], []
    for point in centres:
        xs.append(point.x())
        ys.append(point.y())
    if not xs:
        return QtCore.QRectF()
    return QtCore.QRectF(
        QtCore.QPointF(min(xs) + BOX.left(), min(ys) + BOX.top()),
        QtCore.QPointF(max(xs) + BOX.right(), max(ys) + BOX.bottom()),
    ).adjusted(-20, -20, 20, 20)
