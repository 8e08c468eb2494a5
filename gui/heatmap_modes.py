"""The layer, head and rollout modes of the attention heat map (``QtAttentionHeatmap``).

``HeatmapModes`` is the heat map's base part that picks what its (T, layers·heads, S)
data shows: a head or the mean of heads, a layer or the mean of layers
(gui/heatmap_layers.py), the grid of every layer × head, or the rollout through the
encoder's self-attention. It keeps the bar's combos and rollout switch in step.
"""

from __future__ import annotations

from attnscope.gui.heatmap_controls import HeatmapControls
from attnscope.gui.heatmap_data import WEIGHTS, HeatmapData
from attnscope.gui.heatmap_layers import HEAD_GRID, NO_ROLLOUT, LayerHeadChoice


class HeatmapModes:
    """What of the layered attention the heat map shows; the heat map provides ``_data``,
    ``_controls``, ``_refresh`` and ``set_value_kind``."""

    _data: HeatmapData
    _controls: HeatmapControls
    _choice: LayerHeadChoice  # the layer and head shown
    _rollout: bool  # rolled out through the encoder (when the data can be)

    def set_head_mode(self, mode: int | str) -> None:
        """Show one head of the layer shown (0-based index), ``"mean"`` of heads, or the
        ``"grid"`` of every (layer and) head."""
        data = self._data
        self._show_choice(self._choice.with_head(mode, data.layer_count(), data.heads_per_layer()))

    def head_mode(self) -> int | str:
        return self._choice.head

    def set_layer_mode(self, layer: int | str) -> None:
        """Show one layer (0-based index) or the ``"mean"`` of every layer and head."""
        data = self._data
        self._show_choice(
            self._choice.with_layer(layer, data.layer_count(), data.heads_per_layer())
        )

    def layer_mode(self) -> int | str:
        return self._choice.layer

    def set_rollout(self, on: bool) -> None:
        """Roll the shown layer (or every layer) out through the encoder's self-attention;
        only while the data has a mixing matrix, and never with raw scores."""
        if on and self._data.mixing is None:
            raise ValueError(f"no rollout: {NO_ROLLOUT}")
        self._rollout = on
        if on:
            self.set_value_kind(WEIGHTS)
        self._sync_controls()
        self._refresh()

    def rollout_on(self) -> bool:
        """Whether the heat map shows the rollout now."""
        return self._rollout and self._data.mixing is not None

    def _show_choice(self, choice: LayerHeadChoice) -> None:
        self._choice = choice
        self._controls.show_choice(choice)
        self._refresh()

    def _grid_shown(self) -> bool:
        return self._choice.head == HEAD_GRID and not self.rollout_on()

    def _sync_controls(self) -> None:
        data = self._data
        self._choice = data.valid_choice(self._choice)
        self._controls.set_shape(data.layer_count(), data.heads_per_layer(), self._choice)
        self._controls.set_rollout(data.mixing is not None, NO_ROLLOUT, on=self.rollout_on())

    def _on_grid_head_clicked(self, row: int) -> None:
        """A grid panel (its layer-major attention row) is now the layer and head shown."""
        layer, head = divmod(row, self._data.heads_per_layer())
        layer = layer if self._data.layer_count() > 1 else self._choice.layer
        self._show_choice(LayerHeadChoice(layer, head))
