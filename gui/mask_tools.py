"""Painting a mask over the captioned picture: the image what-if's drawing tools.

``MaskLayer`` holds the mask being drawn, a (H, W) bool array over the
picture's own pixels (True = to hide), with an undo history, and draws it as a
tinted layer on the picture's view box. With the rectangle or brush tool on,
a left drag on the picture draws; with the select tool, clicks go to the
attention overlay as before. The masks themselves are built by
``attnscope.engine.image_masks`` (``rect_mask``, ``brush_mask``), so what is
drawn is exactly what the worker fills.

``MaskToolbar`` is the row of controls: the tools, the brush size, the fill,
undo / clear, "Mask what word k looked at" and "Re-caption with mask", each a
QAction with a shortcut and a tooltip. ``attnscope.gui.image_what_if`` sends
the masked picture to the worker and shows the result.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.engine.image_masks import MASK_FILLS, brush_mask, rect_mask
from attnscope.gui.image_overlay import QtImageAttentionOverlay

TOOLS = {"select": "Select", "rectangle": "Rectangle", "brush": "Brush"}
TOOL_KEYS = {"select": "S", "rectangle": "R", "brush": "B"}
FILL_TIPS = {
    "grey": "Flat grey: the mean colour of the model's training pictures (zero input)",
    "blur": "A strong blur: shapes and edges go, colours stay",
    "noise": "Random colours (seeded, so a re-caption is reproducible)",
}
MASK_RGBA = (255, 0, 170, 120)  # tint of the masked pixels
PREVIEW_COLOUR = "#ff00aa"
DISPLAY_MAX_SIDE = 512  # the tint layer's resolution cap; it is stretched over the picture
MAX_UNDO = 30
DEFAULT_BRUSH_PERCENT = 4  # brush radius, % of the picture's longer side
RECAPTION_KEY = "Ctrl+Shift+M"
MASK_WORD_KEY = "Ctrl+Shift+K"
UNDO_KEY = "Ctrl+Z"
CLEAR_KEY = "Ctrl+Shift+Backspace"
MASK_WORD_MIN_WIDTH = 100  # px; the button's text grows with the selected word


class _MaskItem(pg.ImageItem):
    """The tint layer; it takes left drags while a drawing tool is on."""

    def __init__(self, layer: MaskLayer) -> None:
        super().__init__(axisOrder="row-major")
        self._layer = layer

    def mouseDragEvent(self, ev) -> None:
        if not self._layer.drawing() or ev.button() != QtCore.Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        self._layer.drag(
            ev.buttonDownScenePos(), ev.scenePos(), start=ev.isStart(), finish=ev.isFinish()
        )


class MaskLayer(QtCore.QObject):
    """The mask being drawn over one picture, its undo history and its tint on the overlay.

    ``maskChanged`` is emitted after every edit, undo or clear.
    """

    maskChanged = QtCore.Signal()

    def __init__(
        self, overlay: QtImageAttentionOverlay, parent: QtCore.QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._overlay = overlay
        self._shape: tuple[int, int] | None = None
        self._history: list[np.ndarray] = []  # each entry: the whole (H, W) mask after an edit
        self._tool = "select"
        self._brush_percent = DEFAULT_BRUSH_PERCENT
        self._stroke: list[tuple[float, float]] = []
        self._item = _MaskItem(self)
        self._item.setZValue(3)
        self._preview = QtWidgets.QGraphicsRectItem()
        pen = QtGui.QPen(QtGui.QColor(PREVIEW_COLOUR), 2, QtCore.Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._preview.setPen(pen)
        self._preview.setZValue(4)
        self._preview.hide()
        box = overlay.view_box()
        box.addItem(self._item)
        box.addItem(self._preview, ignoreBounds=True)

    # -- state -----------------------------------------------------------
    def set_picture_shape(self, shape: tuple[int, int] | None) -> None:
        """The picture the mask covers, (H, W); a different size forgets the mask."""
        shape = None if shape is None else (int(shape[0]), int(shape[1]))
        if shape == self._shape:
            return
        self._shape = shape
        self._history.clear()
        self._redraw()
        self.maskChanged.emit()

    def picture_shape(self) -> tuple[int, int] | None:
        return self._shape

    def mask(self) -> np.ndarray | None:
        """The current (H, W) bool mask (a copy), or None when nothing is masked."""
        return self._history[-1].copy() if self.covered_share() > 0 else None

    def covered_share(self) -> float:
        """Share of the picture's pixels the mask hides (0 without a mask)."""
        return float(self._history[-1].mean()) if self._history else 0.0

    def can_undo(self) -> bool:
        return bool(self._history)

    def set_visible(self, visible: bool) -> None:
        """Show or hide the tint (hidden while the masked picture itself is shown)."""
        self._item.setVisible(visible)

    # -- edits -----------------------------------------------------------
    def add_rect(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Add a rectangle between two corners in picture pixels (ValueError if it misses)."""
        self._push(rect_mask(self._required_shape(), x0, y0, x1, y1), union=True)

    def add_stroke(self, points, radius: float | None = None) -> None:
        """Add a brush stroke through ``points`` (x, y) picture pixels; ``radius`` in pixels,
        default the toolbar's brush size."""
        radius = self.brush_radius() if radius is None else radius
        self._push(brush_mask(self._required_shape(), points, radius), union=True)

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the mask (e.g. by the cells a word attended to); undo brings the old one back."""
        values = np.asarray(mask, dtype=bool)
        if values.shape != self._required_shape():
            raise ValueError(f"mask of shape {values.shape} does not fit the picture {self._shape}")
        self._push(values, union=False)

    def undo(self) -> None:
        if self._history:
            self._history.pop()
            self._redraw()
            self.maskChanged.emit()

    def clear(self) -> None:
        """Hide nothing (undo brings the mask back)."""
        if self._history and self._history[-1].any():
            self._push(np.zeros(self._shape, dtype=bool), union=False)

    def _push(self, mask: np.ndarray, *, union: bool) -> None:
        if union and self._history:
            mask = mask | self._history[-1]
        if not mask.any() and not self._history:
            return  # nothing masked before or after
        self._history.append(mask)  # an empty entry is a clear, which undo takes back
        del self._history[:-MAX_UNDO]
        self._redraw()
        self.maskChanged.emit()

    def _required_shape(self) -> tuple[int, int]:
        if self._shape is None:
            raise ValueError("there is no picture to mask yet: caption a picture first")
        return self._shape

    # -- tools -----------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown mask tool {tool!r}; valid: {', '.join(TOOLS)}")
        self._tool = tool
        cursor = (
            QtCore.Qt.CursorShape.ArrowCursor
            if tool == "select"
            else QtCore.Qt.CursorShape.CrossCursor
        )
        self._overlay.graphics_view().setCursor(cursor)
        self._overlay.view_box().setMouseEnabled(x=tool == "select", y=tool == "select")

    def tool(self) -> str:
        return self._tool

    def drawing(self) -> bool:
        return self._tool != "select" and self._shape is not None

    def set_brush_percent(self, percent: float) -> None:
        self._brush_percent = float(percent)

    def brush_radius(self) -> float:
        """The brush radius in picture pixels: a share of the longer side, at least 1."""
        side = max(self._shape) if self._shape else 100
        return max(1.0, side * self._brush_percent / 100)

    def drag(self, down: QtCore.QPointF, now: QtCore.QPointF, *, start: bool, finish: bool) -> None:
        """One step of a left drag (scene positions): preview while dragging, add when done."""
        x0, y0 = self._overlay.picture_pos(down)
        x1, y1 = self._overlay.picture_pos(now)
        if self._tool == "rectangle":
            self._preview.setRect(
                QtCore.QRectF(QtCore.QPointF(x0, y0), QtCore.QPointF(x1, y1)).normalized()
            )
            self._preview.setVisible(not finish)
            if finish:
                self._add_safely(lambda: self.add_rect(x0, y0, x1, y1))
            return
        if start or not self._stroke:
            self._stroke = [(x0, y0)]
        self._stroke.append((x1, y1))
        if finish:
            stroke, self._stroke = self._stroke, []
            self._add_safely(lambda: self.add_stroke(stroke))
        else:
            self._redraw(brush_mask(self._required_shape(), self._stroke, self.brush_radius()))

    def _add_safely(self, add) -> None:
        try:
            add()
        except ValueError:  # a drag that missed the picture adds nothing
            self._redraw()

    # -- drawing ---------------------------------------------------------
    def _redraw(self, pending: np.ndarray | None = None) -> None:
        """Tint the masked pixels (plus a stroke still being drawn) at display resolution."""
        if self._shape is None:
            self._item.clear()
            return
        height, width = self._shape
        scale = min(1.0, DISPLAY_MAX_SIDE / max(height, width))
        rows = ((np.arange(max(1, round(height * scale))) + 0.5) / scale).astype(int)
        cols = ((np.arange(max(1, round(width * scale))) + 0.5) / scale).astype(int)
        shown = np.zeros(self._shape, dtype=bool) if not self._history else self._history[-1]
        if pending is not None:
            shown = shown | pending
        small = shown[np.minimum(rows, height - 1)[:, None], np.minimum(cols, width - 1)[None, :]]
        rgba = np.zeros((*small.shape, 4), dtype=np.uint8)  # (h', w', 4)
        rgba[small] = MASK_RGBA
        self._item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self._item.setRect(QtCore.QRectF(0, 0, width, height))


class MaskToolbar(QtWidgets.QWidget):
    """The image what-if's controls; ``recaptionRequested`` and ``maskWordRequested``
    ask the owner to act (it knows the decode and the worker)."""

    recaptionRequested = QtCore.Signal()
    maskWordRequested = QtCore.Signal()

    def __init__(self, layer: MaskLayer, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self._busy = False
        self._build_actions()
        self._build_widgets()
        layer.maskChanged.connect(self._on_mask_changed)
        self._on_mask_changed()

    def _action(self, text: str, key: str | None, tip: str, slot) -> QtGui.QAction:
        action = QtGui.QAction(text, self)
        if key:
            action.setShortcut(QtGui.QKeySequence(key))
            action.setShortcutContext(QtCore.Qt.ShortcutContext.WidgetWithChildrenShortcut)
            tip = f"{tip} ({action.shortcut().toString()})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.tool_group = QtGui.QActionGroup(self)
        self.tool_actions: dict[str, QtGui.QAction] = {}
        tips = {
            "select": "Click the picture to see which words looked at a cell",
            "rectangle": "Drag on the picture to mask a rectangle",
            "brush": "Drag on the picture to paint the mask",
        }
        for tool, text in TOOLS.items():
            action = self._action(
                text, TOOL_KEYS[tool], tips[tool], lambda _=False, t=tool: self.layer.set_tool(t)
            )
            action.setCheckable(True)
            action.setChecked(tool == "select")
            self.tool_group.addAction(action)
            self.tool_actions[tool] = action
        self.undo_action = self._action(
            "Undo", UNDO_KEY, "Undo the last mask edit", self.layer.undo
        )
        self.clear_action = self._action(
            "Clear", CLEAR_KEY, "Remove the whole mask", self.layer.clear
        )
        self.mask_word_action = self._action(
            "Mask what the word looked at",
            MASK_WORD_KEY,
            "Mask the cells holding the chosen share of the selected word's attention",
            self.maskWordRequested.emit,
        )
        self.recaption_action = self._action(
            "Re-caption with mask",
            RECAPTION_KEY,
            "Caption the picture again with the masked pixels filled, and compare the captions",
            self.recaptionRequested.emit,
        )
        self.all_actions = [
            *self.tool_actions.values(),
            self.undo_action,
            self.clear_action,
            self.mask_word_action,
            self.recaption_action,
        ]

    def _build_widgets(self) -> None:
        self.brush_size = QtWidgets.QSpinBox()
        self.brush_size.setRange(1, 25)
        self.brush_size.setSuffix(" %")
        self.brush_size.setValue(DEFAULT_BRUSH_PERCENT)
        self.brush_size.setToolTip("Brush radius, as a share of the picture's longer side")
        self.brush_size.valueChanged.connect(self.layer.set_brush_percent)
        self.fill_box = QtWidgets.QComboBox()
        for index, fill in enumerate(MASK_FILLS):
            self.fill_box.addItem(fill)
            self.fill_box.setItemData(index, FILL_TIPS[fill], QtCore.Qt.ItemDataRole.ToolTipRole)
        self.fill_box.setToolTip("What the masked pixels are filled with")
        self.word_share = QtWidgets.QSpinBox()
        self.word_share.setRange(5, 95)
        self.word_share.setSingleStep(5)
        self.word_share.setValue(50)
        self.word_share.setSuffix(" %")
        self.word_share.setToolTip(
            "Mask what the word looked at: the fewest highest cells holding this share (%) of "
            "its attention (heads averaged)"
        )
        self.coverage = QtWidgets.QLabel()
        self._lay_out()

    def _lay_out(self) -> None:
        """Two rows, so the caption workspace fits a 1280-pixel window: drawing the mask
        (tools, brush, fill, how much is masked), then editing and using it (undo, clear,
        mask what a word looked at, the share, re-caption)."""
        draw = QtWidgets.QHBoxLayout()
        draw.addWidget(QtWidgets.QLabel("Mask:"))
        for action in self.tool_actions.values():
            draw.addWidget(self._button(action))
        draw.addWidget(self.brush_size)
        draw.addWidget(QtWidgets.QLabel("Fill:"))
        draw.addWidget(self.fill_box)
        draw.addWidget(self.coverage)
        draw.addStretch(1)
        use = QtWidgets.QHBoxLayout()
        for action in (self.undo_action, self.clear_action):
            use.addWidget(self._button(action))
        self.mask_word_button = self._button(self.mask_word_action)
        # its text names the selected word; a long word is cut, not the window widened
        self.mask_word_button.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed
        )
        self.mask_word_button.setMinimumWidth(MASK_WORD_MIN_WIDTH)
        use.addWidget(self.mask_word_button, 1)
        use.addWidget(self.word_share)
        use.addStretch(1)
        use.addWidget(self._button(self.recaption_action))
        rows = QtWidgets.QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        rows.setSpacing(2)
        rows.addLayout(draw)
        rows.addLayout(use)

    def _button(self, action: QtGui.QAction) -> QtWidgets.QToolButton:
        button = QtWidgets.QToolButton()
        button.setDefaultAction(action)
        return button

    def fill(self) -> str:
        return self.fill_box.currentText()

    def set_fill(self, fill: str) -> None:
        if fill not in MASK_FILLS:
            raise ValueError(f"unknown mask fill {fill!r}; valid: {', '.join(MASK_FILLS)}")
        self.fill_box.setCurrentText(fill)

    def attention_share(self) -> float:
        """The share of a word's attention mass "Mask what the word looked at" covers."""
        return self.word_share.value() / 100

    def set_busy(self, busy: bool) -> None:
        """While a re-caption runs, another cannot start."""
        self._busy = busy
        self._on_mask_changed()

    def _on_mask_changed(self) -> None:
        share = self.layer.covered_share()
        self.coverage.setText(f"{100 * share:.1f} % masked" if share else "")
        self.undo_action.setEnabled(self.layer.can_undo())
        self.clear_action.setEnabled(share > 0)
        self.recaption_action.setEnabled(share > 0 and not self._busy)
