"""The bar above the heat map: which head, what is under the cursor, which values (weights or
raw scores), colours."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from attnscope.gui.style import COLORMAPS

HEAD_MEAN = "mean"
HEAD_GRID = "grid"


class HeatmapControls(QtWidgets.QWidget):
    """Head combo, the hover text, the raw-scores switch and the colour-map combo of one heat map.

    ``headChosen(mode)``, ``scoresToggled(bool)`` and ``colormapChosen(name)`` say what
    the user picked; ``set_heads``, ``show_head`` and ``show_colormap`` follow the
    heat map without emitting.
    """

    headChosen = QtCore.Signal(object)  # a head index, HEAD_MEAN or HEAD_GRID
    scoresToggled = QtCore.Signal(bool)
    colormapChosen = QtCore.Signal(str)

    def __init__(self, colormap_name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.head_combo = QtWidgets.QComboBox()
        self.head_combo.setToolTip(
            "Which attention head to show: one head, their mean, or all of them"
        )
        self.head_combo.currentIndexChanged.connect(self._on_head_index_changed)
        self.head_label = QtWidgets.QLabel("Heads:")
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
        for widget in (self.head_label, self.head_combo):
            bar.addWidget(widget)
        bar.addWidget(self.hover_label, 1)
        bar.addWidget(self.scores_button)
        bar.addWidget(QtWidgets.QLabel("Colours:"))
        bar.addWidget(self.cmap_combo)

    def set_heads(self, heads: int, mode: int | str) -> None:
        """Offer ``heads`` heads (the combo hides for one) and show ``mode`` as chosen."""
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.clear()
            self.head_combo.addItem("mean of heads", HEAD_MEAN)
            for head in range(heads if heads > 1 else 0):
                self.head_combo.addItem(f"head {head + 1}", head)
            self.head_combo.addItem("all heads (grid)", HEAD_GRID)
        self.show_head(mode)
        self.head_combo.setVisible(heads > 1)
        self.head_label.setVisible(heads > 1)

    def show_head(self, mode: int | str) -> None:
        index = self.head_combo.findData(mode)
        with QtCore.QSignalBlocker(self.head_combo):
            self.head_combo.setCurrentIndex(max(0, index))

    def show_scores(self, on: bool) -> None:
        with QtCore.QSignalBlocker(self.scores_button):
            self.scores_button.setChecked(on)

    def show_colormap(self, name: str) -> None:
        with QtCore.QSignalBlocker(self.cmap_combo):
            self.cmap_combo.setCurrentText(name)

    def _on_head_index_changed(self, index: int) -> None:
        if index >= 0:
            self.headChosen.emit(self.head_combo.itemData(index))
