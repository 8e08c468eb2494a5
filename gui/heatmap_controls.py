"""The bar above the heat map: which layer and head, attention rollout, what is under the
cursor, which values (weights or raw scores), colours."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from attnscope.gui.heatmap_layers import HEAD_GRID, HEAD_MEAN, LAYER_MEAN, LayerHeadChoice
from attnscope.gui.style import COLORMAPS

__all__ = ["HEAD_GRID", "HEAD_MEAN", "LAYER_MEAN", "HeatmapControls"]

ONE_HEAD_NEEDS_A_LAYER = "Pick a layer to see one of its heads"


class HeatmapControls(QtWidgets.QWidget):
    """Layer and head combos, the rollout switch, the hover text, the raw-scores switch and
    the colour-map combo of one heat map.

    ``layerChosen(layer)``, ``headChosen(mode)``, ``rolloutToggled(bool)``,
    ``scoresToggled(bool)`` and ``colormapChosen(name)`` say what the user picked;
    ``set_shape``, ``show_choice``, ``set_rollout`` and ``show_colormap`` follow the heat
    map without emitting.
    """

    layerChosen = QtCore.Signal(object)  # a layer index or LAYER_MEAN
    headChosen = QtCore.Signal(object)  # a head index, HEAD_MEAN or HEAD_GRID
    rolloutToggled = QtCore.Signal(bool)
    scoresToggled = QtCore.Signal(bool)
    colormapChosen = QtCore.Signal(str)

    def __init__(self, colormap_name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_layer_widgets()
        self.head_combo = QtWidgets.QComboBox()
        self.head_combo.setToolTip(
            "Which attention head to show: one head, their mean, or all of them"
        )
        self.head_combo.currentIndexChanged.connect(self._on_head_index_changed)
        self.head_label = QtWidgets.QLabel("Heads:")
        self.head_label.setBuddy(self.head_combo)
        # what the cursor is over; in the bar, not a line of its own under the plot
        self.hover_label = QtWidgets.QLabel("")
        self.hover_label.setToolTip(
            "Source token → target token: attention weight under the cursor"
        )
        self.hover_label.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        self.scores_button = QtWidgets.QToolButton()
        self.scores_button.setText("Raw scores")
        self.scores_button.setCheckable(True)
        self.scores_button.setToolTip(
            "Show the raw pre-softmax attention scores (energies, dot products) of the shown "
            "hypothesis on their own colour scale instead of the weights (Ctrl+Shift+W)"
        )
        self.scores_button.toggled.connect(self.scoresToggled)
        self.cmap_combo = QtWidgets.QComboBox()
        self.cmap_combo.addItems(list(COLORMAPS))
        self.cmap_combo.setCurrentText(colormap_name)
        self.cmap_combo.setToolTip("Colour map of the heat map")
        self.cmap_combo.currentTextChanged.connect(self.colormapChosen)
        bar = QtWidgets.QHBoxLayout(self)
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (self.layer_label, self.layer_combo, self.head_label, self.head_combo):
            bar.addWidget(widget)
        bar.addWidget(self.rollout_button)
        bar.addWidget(self.hover_label, 1)
        bar.addWidget(self.scores_button)
        bar.addWidget(QtWidgets.QLabel("Colours:"))
        bar.addWidget(self.cmap_combo)
        self.set_rollout(False, "")

    def _build_layer_widgets(self) -> None:
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip(
            "Which decoder layer's cross-attention to show, or the mean of every layer and head"
        )
        self.layer_combo.currentIndexChanged.connect(self._on_layer_index_changed)
        self.layer_label = QtWidgets.QLabel("Layer:")
        self.layer_label.setBuddy(self.layer_combo)
        self.rollout_button = QtWidgets.QToolButton()
        self.rollout_button.setText("Rollout")
        self.rollout_button.setCheckable(True)
        self.rollout_button.toggled.connect(self.rolloutToggled)

    def set_shape(self, layers: int, heads: int, choice: LayerHeadChoice) -> None:
        """Offer ``layers`` × ``heads`` (heads per layer) and show ``choice``; the layer combo
        hides for one layer, the head combo for one head in all."""
        with QtCore.QSignalBlocker(self.layer_combo):
            self.layer_combo.clear()
            self.layer_combo.addItem("mean of layers", LAYER_MEAN)
            self.layer_combo.setItemData(
                0, "The mean over every layer and head", QtCore.Qt.ItemDataRole.ToolTipRole
            )
            for layer in range(layers if layers > 1 else 0):
                self.layer_combo.addItem(f"layer {layer + 1}", layer)
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.clear()
            self.head_combo.addItem("mean of heads", HEAD_MEAN)
            for head in range(heads if layers * heads > 1 else 0):
                self.head_combo.addItem(f"head {head + 1}", head)
            grid = "all layers × heads (grid)" if layers > 1 else "all heads (grid)"
            self.head_combo.addItem(grid, HEAD_GRID)
        self.show_choice(choice, layers=layers)
        for widget in (self.layer_combo, self.layer_label):
            widget.setVisible(layers > 1)
        for widget in (self.head_combo, self.head_label):
            widget.setVisible(layers * heads > 1)

    def show_choice(self, choice: LayerHeadChoice, *, layers: int | None = None) -> None:
        """Show ``choice`` as picked; single heads are offered only with a single layer."""
        layers = self.layer_combo.count() - 1 if layers is None else layers
        with QtCore.QSignalBlocker(self.layer_combo):
            self.layer_combo.setCurrentIndex(max(0, self.layer_combo.findData(choice.layer)))
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.setCurrentIndex(max(0, self.head_combo.findData(choice.head)))
        one_layer = layers <= 1 or isinstance(choice.layer, int)
        model = self.head_combo.model()
        for index in range(self.head_combo.count()):
            if isinstance(self.head_combo.itemData(index), int):
                model.item(index).setEnabled(one_layer)
                tip = None if one_layer else ONE_HEAD_NEEDS_A_LAYER
                self.head_combo.setItemData(index, tip, QtCore.Qt.ItemDataRole.ToolTipRole)

    def set_rollout(self, available: bool, why_not: str, *, on: bool = False) -> None:
        """The rollout switch: usable when ``available``, else disabled saying ``why_not``;
        while it is on the head combo rests (the rollout averages the heads)."""
        with QtCore.QSignalBlocker(self.rollout_button):
            self.rollout_button.setChecked(on and available)
        self.rollout_button.setEnabled(available)
        tip = (
            "Attention rollout: the chosen layer's cross-attention (or the mean of layers), "
            "heads averaged, traced back through the encoder's self-attention to the source "
            "tokens (Abnar & Zuidema 2020)"
        )
        self.rollout_button.setToolTip(tip if available else f"Rollout is off: {why_not}")
        self.head_combo.setEnabled(not (on and available))

    def show_scores(self, on: bool) -> None:
        with QtCore.QSignalBlocker(self.scores_button):
            self.scores_button.setChecked(on)

    def show_colormap(self, name: str) -> None:
        with QtCore.QSignalBlocker(self.cmap_combo):
            self.cmap_combo.setCurrentText(name)

    def _on_layer_index_changed(self, index: int) -> None:
        if index >= 0:
            self.layerChosen.emit(self.layer_combo.itemData(index))

    def _on_head_index_changed(self, index: int) -> None:
        if index >= 0:
            self.headChosen.emit(self.head_combo.itemData(index))
