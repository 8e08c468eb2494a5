"""Layer and head combos (Alt+L, Alt+E) over layer-major attention: what the heat map
and the caption view's picture overlay show (gui/heatmap_layers.py's ``LayerHeadChoice``).

One widget, so both views offer the same choice in the same words: the layer combo
("mean of layers", "layer N"; hidden for one layer) and the head combo ("mean of
heads", "head N" of the chosen layer, and, where the view has one, the grid). A single
head is offered only with a single layer: heads of different layers are different
heads, and their mean over layers means nothing.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from attnscope.gui.heatmap_layers import HEAD_GRID, HEAD_MEAN, LAYER_MEAN, LayerHeadChoice

ONE_HEAD_NEEDS_A_LAYER = "Pick a layer to see one of its heads"
TOOLTIP_ROLE = QtCore.Qt.ItemDataRole.ToolTipRole


class LayerHeadPicker(QtWidgets.QWidget):
    """ "Layer:" and "Heads:" combos; ``layerChosen(layer)`` and ``headChosen(head)`` say
    what the user picked, ``set_shape`` and ``show_choice`` follow the view without
    emitting. ``grid``: whether the head combo offers the grid of every head."""

    layerChosen = QtCore.Signal(object)  # a layer index or LAYER_MEAN
    headChosen = QtCore.Signal(object)  # a head index, HEAD_MEAN or HEAD_GRID

    def __init__(self, *, grid: bool, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = grid
        self._layers = 1
        self._shape = (0, 0)  # (layers, heads per layer) the combos offer
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip(
            "Which decoder layer's cross-attention to show, or the mean of every layer and head"
        )
        self.layer_label = QtWidgets.QLabel("&Layer:")  # Alt+L
        self.layer_label.setBuddy(self.layer_combo)
        self.head_combo = QtWidgets.QComboBox()
        shown = "one head, their mean, or all of them" if grid else "one head or their mean"
        self.head_combo.setToolTip(f"Which attention head to show: {shown}")
        self.head_label = QtWidgets.QLabel("H&eads:")  # Alt+E
        self.head_label.setBuddy(self.head_combo)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_index_changed)
        self.head_combo.currentIndexChanged.connect(self._on_head_index_changed)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.layer_label, self.layer_combo, self.head_label, self.head_combo):
            row.addWidget(widget)
        self.set_shape(1, 1, LayerHeadChoice())

    def set_shape(self, layers: int, heads: int, choice: LayerHeadChoice) -> None:
        """Offer ``layers`` × ``heads`` (heads per layer) and show ``choice``; the layer combo
        hides for one layer, the head combo for one head in all. The same shape again only
        shows ``choice`` (a live decode sets it every step)."""
        if (layers, heads) == self._shape:
            self.show_choice(choice)
            return
        self._layers, self._shape = layers, (layers, heads)
        with QtCore.QSignalBlocker(self.layer_combo):
            self.layer_combo.clear()
            self.layer_combo.addItem("mean of layers", LAYER_MEAN)
            self.layer_combo.setItemData(0, "The mean over every layer and head", TOOLTIP_ROLE)
            for layer in range(layers if layers > 1 else 0):
                self.layer_combo.addItem(f"layer {layer + 1}", layer)
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.clear()
            self.head_combo.addItem("mean of heads", HEAD_MEAN)
            for head in range(heads if layers * heads > 1 else 0):
                self.head_combo.addItem(f"head {head + 1}", head)
            if self._grid:
                self.head_combo.addItem("all heads (grid)", HEAD_GRID)
                tip = "Every layer × head, a row per layer" if layers > 1 else "Every head"
                self.head_combo.setItemData(self.head_combo.count() - 1, tip, TOOLTIP_ROLE)
        self.show_choice(choice)
        for widget in (self.layer_combo, self.layer_label):
            widget.setVisible(layers > 1)
        for widget in (self.head_combo, self.head_label):
            widget.setVisible(layers * heads > 1)

    def show_choice(self, choice: LayerHeadChoice) -> None:
        """Show ``choice`` as picked; single heads are offered only with a single layer."""
        with QtCore.QSignalBlocker(self.layer_combo):
            self.layer_combo.setCurrentIndex(max(0, self.layer_combo.findData(choice.layer)))
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.setCurrentIndex(max(0, self.head_combo.findData(choice.head)))
        one_layer = self._layers <= 1 or isinstance(choice.layer, int)
        model = self.head_combo.model()
        for index in range(self.head_combo.count()):
            if isinstance(self.head_combo.itemData(index), int):
                model.item(index).setEnabled(one_layer)
                tip = None if one_layer else ONE_HEAD_NEEDS_A_LAYER
                self.head_combo.setItemData(index, tip, TOOLTIP_ROLE)

    def choice(self) -> LayerHeadChoice:
        """The layer and head the combos show."""
        layer = self.layer_combo.currentData()
        head = self.head_combo.currentData()
        return LayerHeadChoice(
            LAYER_MEAN if layer is None else layer, HEAD_MEAN if head is None else head
        )

    def _on_layer_index_changed(self, index: int) -> None:
        if index >= 0:
            self.layerChosen.emit(self.layer_combo.itemData(index))

    def _on_head_index_changed(self, index: int) -> None:
        if index >= 0:
            self.headChosen.emit(self.head_combo.itemData(index))
