"""The bar above the heat map: which layer and head, attention rollout, what is under the
cursor, which values (weights or raw scores), colours."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from attnscope.gui.heatmap_layers import HEAD_GRID, HEAD_MEAN, LAYER_MEAN, LayerHeadChoice
from attnscope.gui.layer_head_picker import LayerHeadPicker
from attnscope.gui.style import COLORMAPS

__all__ = ["HEAD_GRID", "HEAD_MEAN", "LAYER_MEAN", "HeatmapControls"]


class HeatmapControls(QtWidgets.QWidget):
    """Layer and head combos (``LayerHeadPicker``), the rollout switch, the hover text, the
    raw-scores switch and the colour-map combo of one heat map.

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
        self.picker = LayerHeadPicker(grid=True)
        self.layer_combo, self.head_combo = self.picker.layer_combo, self.picker.head_combo
        self.picker.layerChosen.connect(self.layerChosen)
        self.picker.headChosen.connect(self.headChosen)
        self.rollout_button = QtWidgets.QToolButton()
        self.rollout_button.setText("Rollout")
        self.rollout_button.setCheckable(True)
        self.rollout_button.toggled.connect(self.rolloutToggled)
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
        # no "Colours:" label: the names say it, and two heat maps side by side (compare)
        # must fit a 1366 px screen with the Rollout switch
        self.cmap_combo.setToolTip("Colour map of the heat map")
        self.cmap_combo.setAccessibleName("Colours")
        self.cmap_combo.currentTextChanged.connect(self.colormapChosen)
        rows = QtWidgets.QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        self._picker_row, self._bar = QtWidgets.QHBoxLayout(), QtWidgets.QHBoxLayout()
        for row in (self._picker_row, self._bar):
            rows.addLayout(row)
        self._choice_box = QtWidgets.QWidget()  # Layer, Heads and Rollout: what is shown
        choice_row = QtWidgets.QHBoxLayout(self._choice_box)
        choice_row.setContentsMargins(0, 0, 0, 0)
        choice_row.addWidget(self.picker)
        choice_row.addWidget(self.rollout_button)
        self._bar.addWidget(self._choice_box)
        self._bar.addWidget(self.hover_label, 1)
        self._bar.addWidget(self.scores_button)
        self._bar.addWidget(self.cmap_combo)
        self._picker_row.addStretch(1)
        self.set_rollout(False, "")

    def set_shape(self, layers: int, heads: int, choice: LayerHeadChoice) -> None:
        """Offer ``layers`` × ``heads`` (heads per layer) and show ``choice``. A layered
        model's Layer and Heads combos get a row of their own above the bar, so the bar
        does not widen the window (a 1366 px laptop)."""
        self.picker.set_shape(layers, heads, choice)
        row, other = (self._picker_row, self._bar) if layers > 1 else (self._bar, self._picker_row)
        if row.indexOf(self._choice_box) < 0:
            other.removeWidget(self._choice_box)
            row.insertWidget(0, self._choice_box)

    def show_choice(self, choice: LayerHeadChoice) -> None:
        self.picker.show_choice(choice)

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
