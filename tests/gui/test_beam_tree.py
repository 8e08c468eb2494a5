"""QtBeamTreeView: draws the given tree, styles statuses apart, reports clicks."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from attnscope.gui.beam_tree import BeamNode, QtBeamTreeView, layout_tree, validate_tree

# root -> a, b ; a -> c (nbest), d (pruned) ; b -> e (finished), f (pruned)
TREE = [
    BeamNode(0, None, "<s>", 0.0, 0, "alive"),
    BeamNode(1, 0, "▁the", -0.4, 1, "alive"),
    BeamNode(2, 0, "▁a", -0.9, 1, "alive"),
    BeamNode(3, 1, "▁cat", -1.0, 2, "nbest"),
    BeamNode(4, 1, "▁dog", -3.0, 2, "pruned"),
    BeamNode(5, 2, "</s>", -1.5, 2, "finished"),
    BeamNode(6, 2, "▁mat", -4.0, 2, "pruned"),
]


@pytest.fixture
def tree_view(qtbot):
    view = QtBeamTreeView()
    qtbot.addWidget(view)
    view.resize(700, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_draws_one_box_per_node_and_one_edge_per_child(tree_view):
    tree_view.set_tree(TREE)
    assert tree_view.node_count() == 7
    assert tree_view.edge_count() == 6
    scene_items = tree_view.graphics_view().scene().items()
    assert len(scene_items) == 7 + 6


def test_layout_puts_steps_in_columns_without_crossing_edges():
    positions = layout_tree(validate_tree(TREE))
    xs = {node.id: positions[node.id].x() for node in TREE}
    assert xs[0] < xs[1] == xs[2] < xs[3] == xs[4] == xs[5] == xs[6]
    ys = {node.id: positions[node.id].y() for node in TREE}
    assert ys[1] < ys[2]  # better score on top
    # children of the upper parent stay above children of the lower one
    assert max(ys[3], ys[4]) < min(ys[5], ys[6])


def test_statuses_are_styled_differently(tree_view):
    tree_view.set_tree(TREE)
    alive, pruned = tree_view.node_item(1), tree_view.node_item(4)
    finished, nbest = tree_view.node_item(5), tree_view.node_item(3)
    assert pruned.opacity() < alive.opacity()
    fills = {item.brush().color().name() for item in (alive, pruned, finished, nbest)}
    assert len(fills) == 4
    assert nbest.pen().widthF() > alive.pen().widthF()
    assert tree_view.edge_item(4).pen().style() == QtCore.Qt.PenStyle.DashLine
    assert tree_view.edge_item(3).pen().style() == QtCore.Qt.PenStyle.SolidLine


def test_clicking_a_node_emits_its_id_and_selects_its_path(tree_view, qtbot):
    tree_view.set_tree(TREE)
    view = tree_view.graphics_view()
    point = view.mapFromScene(tree_view.node_item(5).sceneBoundingRect().center())
    with qtbot.waitSignal(tree_view.nodeSelected) as blocker:
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=point)
    assert blocker.args == [5]
    assert tree_view.selected() == 5
    assert tree_view.path_to(5) == [0, 2, 5]
    on_path = [tree_view.node_item(i).selected_path for i in range(7)]
    assert on_path == [True, False, True, False, False, True, False]
    assert tree_view.edge_item(5).pen().widthF() > tree_view.edge_item(3).pen().widthF()


def test_clicking_empty_space_emits_nothing(tree_view, qtbot):
    tree_view.set_tree(TREE)
    view = tree_view.graphics_view()
    with qtbot.assertNotEmitted(tree_view.nodeSelected):
        QTest.mouseClick(view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(3, 3))


def test_selection_survives_a_tree_update(tree_view):
    tree_view.set_tree(TREE)
    tree_view.select(3)
    tree_view.set_tree([*TREE, BeamNode(7, 3, "▁sat", -1.2, 3, "alive")])
    assert tree_view.selected() == 3
    assert tree_view.node_item(3).selected_path


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([BeamNode(0, None, "a", 0.0, 0), BeamNode(0, None, "b", 0.0, 0)], "duplicate"),
        ([BeamNode(0, None, "a", 0.0, 0, "dead")], "unknown status"),
        ([BeamNode(1, 9, "a", 0.0, 1)], "not in the tree"),
        ([BeamNode(0, None, "a", 0.0, 2), BeamNode(1, 0, "b", 0.0, 1)], "not after its parent"),
    ],
)
def test_inconsistent_trees_are_rejected(tree_view, nodes, message):
    with pytest.raises(ValueError, match=message):
        tree_view.set_tree(nodes)


def test_five_beams_fifty_steps_scrolls_instead_of_squashing(tree_view):
    nodes = [BeamNode(0, None, "<s>", 0.0, 0)]
    parents = [0]
    for step in range(1, 50):
        children = []
        for beam, parent in enumerate(parents[:5] * (1 if step > 1 else 5)):
            node_id = len(nodes)
            nodes.append(BeamNode(node_id, parent, f"w{step}", -step - 0.1 * beam, step))
            children.append(node_id)
        parents = children
    tree_view.set_tree(nodes)
    assert tree_view.node_count() == len(nodes) == 1 + 49 * 5
    view = tree_view.graphics_view()
    assert view.transform().m11() == 1.0  # full size: labels stay readable
    assert view.horizontalScrollBar().maximum() > 0
    tree_view.zoom_to_fit()
    assert view.transform().m11() < 1.0


def _drawn(view: QtBeamTreeView) -> dict:
    """Every node's position, status and path flag, and every edge's path and pen."""
    nodes = {
        node_id: (view.node_item(node_id).pos(), view.node_item(node_id).node.status)
        for node_id in range(view.node_count())
    }
    edges = {
        child: (view.edge_item(child).path(), view.edge_item(child).pen().widthF())
        for child in range(1, view.node_count())
    }
    return {"nodes": nodes, "edges": edges, "selected": view.selected()}


def test_a_growing_tree_keeps_its_items_and_draws_like_a_fresh_one(qtbot, tree_view):
    first_step = [node for node in TREE if node.step <= 1]
    tree_view.set_tree(first_step)
    tree_view.select(1)
    kept = tree_view.node_item(1)
    tree_view.set_tree(TREE)  # step 2 added; statuses unchanged for steps 0..1
    assert tree_view.node_item(1) is kept  # not rebuilt
    changed = [BeamNode(n.id, n.parent, n.token, n.score, n.step, "pruned") for n in TREE[:3]]
    tree_view.set_tree(changed + TREE[3:])  # statuses change: restyled in place
    assert tree_view.node_item(1) is kept and kept.node.status == "pruned"
    fresh = QtBeamTreeView()
    qtbot.addWidget(fresh)
    fresh.set_tree(changed + TREE[3:])
    fresh.select(1)
    assert _drawn(tree_view) == _drawn(fresh)


def test_a_tree_that_is_not_an_extension_is_rebuilt(tree_view):
    tree_view.set_tree(TREE)
    kept = tree_view.node_item(3)
    other = [*TREE[:3], BeamNode(3, 2, "▁dog", -1.0, 2, "nbest")]  # node 3 moved to parent 2
    tree_view.set_tree(other)
    assert tree_view.node_item(3) is not kept
    assert tree_view.node_count() == 4 and tree_view.edge_count() == 3


def test_every_status_a_node_may_have_is_drawn_with_a_style():
    from attnscope.gui.beam_layout import STATUSES
    from attnscope.gui.beam_tree import STATUS_STYLES

    assert set(STATUS_STYLES) == set(STATUSES)
