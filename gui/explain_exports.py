"""File > Export for the Explain panel: the attribution matrix (CSV, .npy) and the figure of
attention beside attribution (PNG, SVG).

The matrix is the shown decode's raw attributions with the panel's method, a row per
target step and a column per source token (or grid cell): (T, S) float32, NaN in the
rows of steps not explained yet. The figure is the panel's two views as shown.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from attnscope.gui import exports
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.explain_controller import ExplainController
from attnscope.gui.explain_panel import ExplainPanel
from attnscope.gui.export_actions import Exporter
from attnscope.gui.translate_view import display_piece

# label, file filter, default suffix, writer method name, tooltip
EXPLAIN_EXPORTS = (
    (
        "Attribution matrix as CSV…",
        "CSV (*.csv)",
        ".csv",
        "attribution_csv",
        "The Explain panel's attributions (its method): a row per target token, a column per "
        "source token; steps not explained are nan",
    ),
    (
        "Attribution matrix as NumPy (T, S)…",
        "NumPy array (*.npy)",
        ".npy",
        "attribution_npy",
        "The Explain panel's attributions, float32 (T, S): T target steps, S source tokens or "
        "grid cells; NaN rows are steps not explained",
    ),
    (
        "Attention and attribution as PNG…",
        "PNG image (*.png)",
        ".png",
        "figure_png",
        "The Explain panel's attention beside its attribution, as shown, as a PNG picture",
    ),
    (
        "Attention and attribution as SVG…",
        "SVG image (*.svg)",
        ".svg",
        "figure_svg",
        "The Explain panel's attention beside its attribution, as shown, as an SVG drawing",
    ),
)


class ExplainExporter(Exporter):
    """Writes what the Explain panel shows; asks where and reports like Exporter."""

    def __init__(
        self,
        state: DecodeState,
        controller: ExplainController,
        panel: ExplainPanel,
        *,
        parent: QWidget,
        show_message: Callable[[str, str], None],
    ) -> None:
        super().__init__(
            state, panel.text_view.attribution, parent=parent, show_message=show_message
        )
        self.controller, self.panel = controller, panel

    def _explained(self) -> np.ndarray:
        """(T, S) attributions; ValueError when no step is explained yet."""
        matrix = self.controller.matrix()
        if not np.isfinite(matrix).any():
            raise ValueError("no step is explained yet (Decode > Explain step, Ctrl+E)")
        return matrix

    def attribution_csv(self, path: str) -> None:
        snapshot = self.state.snapshot
        matrix = self._explained()
        if snapshot.grid is not None:
            h, w = snapshot.grid
            source = [f"cell {row},{col}" for row in range(h) for col in range(w)]
        else:
            source = [display_piece(p) for p in snapshot.source_pieces]
        target = [display_piece(p) for p in snapshot.target_pieces]
        exports.export_matrix_csv(matrix, source, target, path)

    def attribution_npy(self, path: str) -> None:
        exports.export_matrix_npy(self._explained(), path)

    def figure_png(self, path: str) -> None:
        exports.export_widget_png(self.panel.views.currentWidget(), path)

    def figure_svg(self, path: str) -> None:
        exports.export_widget_svg(self.panel.views.currentWidget(), path)

    def add_actions(self, menu: QMenu) -> list[QAction]:
        """One File > Export entry per format (after a separator), tooltips saying what."""
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        actions = []
        for label, file_filter, suffix, method, tip in EXPLAIN_EXPORTS:
            action = QAction(label, menu)
            action.setStatusTip(tip)
            action.setToolTip(tip)
            action.triggered.connect(
                lambda _=False, f=file_filter, s=suffix, m=method: self.ask_and_export(f, s, m)
            )
            menu.addAction(action)
            actions.append(action)
        return actions
