"""Beam search as a tree: one column per decode step, one box per hypothesis.

Nodes are plain ``BeamNode`` records (the engine's beam history converted to
them), so the view knows nothing about search internals. Layout: x = step,
y = the node's rank among its step in a depth-first walk that visits
higher-scoring children first; that order is shared by parents and children,
so edges never cross. Pruned hypotheses are faded, finished ones outlined,
the n-best filled gold, and the path from the root to the selected node is
drawn bold.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.beam_layout import (
    BOX,
    BeamNode,
    edge_path,
    layout_tree,
    scene_bounds,
    validate_tree,
)
from attnscope.gui.style import SELECTION_COLOUR, elide, label_font

logger = logging.getLogger(__name__)

_TOKEN_CHARS = 11
_NODE_ID_KEY = 0  # QGraphicsItem.data key holding the node id
_TOKEN_RECT = BOX.adjusted(4, 2, -4, -18)  # where a node's token and score are written
_SCORE_RECT = BOX.adjusted(4, 18, -4, -2)
_CENTRE = QtCore.Qt.AlignmentFlag.AlignCenter
_POINTING_HAND = QtCore.Qt.CursorShape.PointingHandCursor
_CACHE = QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache


@dataclass(frozen=True)
class NodeStyle:
    """How one status is drawn."""

    fill: str
    border: str
    text: str
    opacity: float
    border_width: float
    edge_dashed: bool


STATUS_STYLES: dict[str, NodeStyle] = {
    "alive": NodeStyle("#e3f2fd", "#1e88e5", "#0d2a4a", 1.0, 1.5, False),
    "pruned": NodeStyle("#eeeeee", "#9e9e9e", "#616161", 0.45, 1.0, True),
    "finished": NodeStyle("#e8f5e9", "#2e7d32", "#1b3d1d", 1.0, 2.5, False),
    "nbest": NodeStyle("#ffd54f", "#ff8f00", "#3e2700", 1.0, 3.0, False),
}


@functools.cache
def _pen(colour: str, width: float, dashed: bool = False) -> QtGui.QPen:
    """Pens, brushes and fonts are made once: a growing tree styles every new node and edge."""
    pen = QtGui.QPen(QtGui.QColor(colour), width)
    if dashed:
        pen.setStyle(QtCore.Qt.PenStyle.DashLine)
    return pen


@functools.cache
def _brush(colour: str) -> QtGui.QBrush:
    return QtGui.QBrush(QtGui.QColor(colour))


@functools.cache
def _node_fonts() -> tuple[QtGui.QFont, QtGui.QFont, QtGui.QFont]:
    """(token, n-best token, score) fonts; made on first paint (needs the application)."""
    return (
        label_font(),
        label_font(bold=True),
        label_font(max(7.0, label_font().pointSizeF() - 1.5)),
    )


class _NodeItem(QtWidgets.QGraphicsRectItem):
    """A rounded box with the token and its score."""

    def __init__(self, node: BeamNode, centre: QtCore.QPointF) -> None:
        super().__init__(BOX)
        self.selected_path = False
        self.setPos(centre)
        self.setData(_NODE_ID_KEY, node.id)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)
        self.setCursor(_POINTING_HAND)
        # painted once into a pixmap, then blitted: a growing tree repaints only its new nodes
        self.setCacheMode(_CACHE)
        self.set_node(node)

    def set_node(self, node: BeamNode) -> None:
        """Show ``node`` (same id; its status may have changed)."""
        self.node = node
        self.style = STATUS_STYLES[node.status]
        self.setOpacity(self.style.opacity)
        self.setBrush(_brush(self.style.fill))
        self.setToolTip(
            f"step {node.step}: {node.token!r}\nscore (log p) {node.score:.3f}\nstatus {node.status}"
        )
        self._apply_pen()
        self.update()

    def set_selected_path(self, selected: bool) -> None:
        self.selected_path = selected
        self._apply_pen()

    def _apply_pen(self) -> None:
        colour = SELECTION_COLOUR if self.selected_path else self.style.border
        width = self.style.border_width + (1.5 if self.selected_path else 0.0)
        self.setPen(_pen(colour, width))

    def paint(self, painter: QtGui.QPainter, option, widget=None) -> None:
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRoundedRect(self.rect(), 6, 6)
        painter.setPen(_pen(self.style.text, 1.0))
        token_font, nbest_font, score_font = _node_fonts()
        painter.setFont(nbest_font if self.node.status == "nbest" else token_font)
        painter.drawText(_TOKEN_RECT, _CENTRE, elide(self.node.token or "∅", _TOKEN_CHARS))
        painter.setFont(score_font)
        painter.drawText(_SCORE_RECT, _CENTRE, f"{self.node.score:.2f}")


class _BeamGraphicsView(QtWidgets.QGraphicsView):
    """Scrollable view: drag to pan, Ctrl+wheel to zoom, click a node to pick it."""

    nodeClicked = QtCore.Signal(int)

    def __init__(self, scene: QtWidgets.QGraphicsScene) -> None:
        super().__init__(scene)
        self.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        self.setDragMode(QtWidgets.QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QtWidgets.QGraphicsView.ViewportAnchor.AnchorUnderMouse)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        item = self.itemAt(event.position().toPoint())
        while item is not None and item.data(_NODE_ID_KEY) is None:
            item = item.parentItem()
        if item is not None and event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.nodeClicked.emit(int(item.data(_NODE_ID_KEY)))
        super().mousePressEvent(event)

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:
        if event.modifiers() & QtCore.Qt.KeyboardModifier.ControlModifier:
            factor = 1.0015 ** event.angleDelta().y()
            self.scale(factor, factor)
            event.accept()
            return
        super().wheelEvent(event)


class QtBeamTreeView(QtWidgets.QWidget):
    """Draws a beam search tree; ``nodeSelected(node_id)`` when the user clicks a node."""

    nodeSelected = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QtWidgets.QGraphicsScene(self)
        self._view = _BeamGraphicsView(self._scene)
        self._view.setToolTip(
            "Beam search tree: drag to pan, Ctrl+wheel to zoom, click a hypothesis"
        )
        self._view.nodeClicked.connect(self._on_node_clicked)
        self._nodes: dict[int, BeamNode] = {}
        self._items: dict[int, _NodeItem] = {}
        self._edges: dict[int, QtWidgets.QGraphicsPathItem] = {}  # child id -> edge into it
        self._selected: int | None = None
        self._path: set[int] = set()  # node ids drawn as the selected path
        legend = QtWidgets.QLabel("faded = pruned · green = finished · gold = n-best")
        legend.setToolTip("How hypothesis statuses are drawn")
        legend.setWordWrap(True)  # a narrow dock wraps it instead of widening the window
        bar = QtWidgets.QHBoxLayout()
        bar.addWidget(legend, 1)
        for text, tip, slot in (
            ("Fit", "Zoom out to show the whole tree", self.zoom_to_fit),
            ("100%", "Back to full size (labels readable)", self.reset_zoom),
        ):
            button = QtWidgets.QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            bar.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self._view, 1)

    def set_tree(self, nodes: Iterable[BeamNode]) -> None:
        """Show ``nodes`` (raises ValueError for an inconsistent tree).

        When the new tree only adds nodes to the drawn one (a beam growing step
        by step) or changes statuses, existing items are kept and only the new
        and changed ones are touched: a growing tree costs its new step, not
        the whole scene.
        """
        by_id = validate_tree(nodes)
        positions = layout_tree(by_id)
        if self._extends_drawn(by_id):
            self._update_scene(by_id, positions)
        else:
            self._rebuild_scene(by_id, positions)
        self._scene.setSceneRect(scene_bounds(positions.values()))
        keep = self._selected if self._selected in by_id else None
        self._clear_path()
        if keep is not None:
            self.select(keep)
        elif by_id:  # follow a live decode: show the newest, best hypothesis
            latest = max(by_id.values(), key=lambda n: (n.step, n.score))
            self._view.ensureVisible(self._items[latest.id], 40, 40)

    def _extends_drawn(self, by_id: dict[int, BeamNode]) -> bool:
        """Every drawn node is still there with the same parent, token, score and step."""
        if not self._nodes or len(by_id) < len(self._nodes):
            return False
        for node_id, old in self._nodes.items():
            new = by_id.get(node_id)
            if new is None or (new.parent, new.token, new.score, new.step) != (
                old.parent,
                old.token,
                old.score,
                old.step,
            ):
                return False
        return True

    def _rebuild_scene(
        self, by_id: dict[int, BeamNode], positions: dict[int, QtCore.QPointF]
    ) -> None:
        self._scene.clear()
        self._nodes, self._items, self._edges = by_id, {}, {}
        self._path = set()
        for node_id, node in by_id.items():
            item = _NodeItem(node, positions[node_id])
            self._scene.addItem(item)
            self._items[node_id] = item
        for node in by_id.values():
            if node.parent is not None:
                self._edges[node.id] = self._add_edge(
                    node, positions[node.parent], positions[node.id]
                )

    def _update_scene(
        self, by_id: dict[int, BeamNode], positions: dict[int, QtCore.QPointF]
    ) -> None:
        """Add the new nodes, move the ones the layout moved, restyle changed statuses."""
        moved = set()
        for node_id, item in self._items.items():
            node = by_id[node_id]
            if item.pos() != positions[node_id]:
                item.setPos(positions[node_id])
                moved.add(node_id)
            if node.status != item.node.status:
                item.set_node(node)
                edge = self._edges.get(node_id)
                if edge is not None:
                    self._style_edge(edge, node, on_path=node_id in self._path)
        added = [node for node_id, node in by_id.items() if node_id not in self._items]
        for node in added:
            item = _NodeItem(node, positions[node.id])
            self._scene.addItem(item)
            self._items[node.id] = item
        self._nodes = by_id
        for node in added:
            if node.parent is not None:
                self._edges[node.id] = self._add_edge(
                    node, positions[node.parent], positions[node.id]
                )
        for child_id, edge in self._edges.items():
            node = by_id[child_id]
            if child_id in moved or node.parent in moved:
                edge.setPath(edge_path(positions[node.parent], positions[child_id]))

    def select(self, node_id: int | None) -> None:
        """Mark ``node_id`` and its path from the root (None clears); scrolls it into view."""
        if node_id is not None and node_id not in self._nodes:
            raise ValueError(f"no beam node with id {node_id}")
        path = set(self.path_to(node_id)) if node_id is not None else set()
        for changed in path ^ self._path:  # only the nodes entering or leaving the path
            on_path = changed in path
            self._items[changed].set_selected_path(on_path)
            edge = self._edges.get(changed)
            if edge is not None:
                self._style_edge(edge, self._nodes[changed], on_path=on_path)
        self._path = path
        self._selected = node_id
        if node_id is not None:
            self._view.ensureVisible(self._items[node_id], 40, 40)

    def _clear_path(self) -> None:
        self._path = {node_id for node_id in self._path if node_id in self._items}
        self.select(None)

    def selected(self) -> int | None:
        return self._selected

    def path_to(self, node_id: int) -> list[int]:
        """Node ids from the root down to ``node_id``."""
        path = []
        current: int | None = node_id
        while current is not None:
            path.append(current)
            current = self._nodes[current].parent
        return path[::-1]

    def zoom_to_fit(self) -> None:
        self._view.fitInView(self._scene.sceneRect(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)

    def reset_zoom(self) -> None:
        self._view.resetTransform()
        if self._selected is not None:
            self._view.ensureVisible(self._items[self._selected], 40, 40)

    def node_count(self) -> int:
        return len(self._items)

    def edge_count(self) -> int:
        return len(self._edges)

    def node_item(self, node_id: int) -> QtWidgets.QGraphicsRectItem:
        return self._items[node_id]

    def edge_item(self, child_id: int) -> QtWidgets.QGraphicsPathItem:
        return self._edges[child_id]

    def graphics_view(self) -> QtWidgets.QGraphicsView:
        return self._view

    def _add_edge(
        self, child: BeamNode, start: QtCore.QPointF, end: QtCore.QPointF
    ) -> QtWidgets.QGraphicsPathItem:
        edge = self._scene.addPath(edge_path(start, end))
        edge.setZValue(1)
        self._style_edge(edge, child, on_path=False)
        return edge

    def _style_edge(
        self, edge: QtWidgets.QGraphicsPathItem, child: BeamNode, *, on_path: bool
    ) -> None:
        style = STATUS_STYLES[child.status]
        if on_path:
            edge.setPen(_pen(SELECTION_COLOUR, 3.0))
        else:
            edge.setPen(_pen(style.border, 1.2, style.edge_dashed))
        edge.setOpacity(1.0 if on_path else style.opacity)

    def _on_node_clicked(self, node_id: int) -> None:
        self.select(node_id)
        self.nodeSelected.emit(node_id)
