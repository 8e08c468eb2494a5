"""Per-epoch curves of a traced run, with a marker at the epoch the slider shows.

Four small plots side by side (pyqtgraph): the run's BLEU (CIDEr-D for a captioner)
and validation loss from its metrics.jsonl, and, from the trace, the attention's mean
entropy and its agreement with the final epoch (top-1 agreement and Jensen-Shannon
divergence). A vertical line marks the current epoch on every plot; clicking a plot
picks the nearest epoch.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from attnscope.gui.compare_maps import A_COLOUR, B_COLOUR

MARKER_COLOUR = "#ff4081"
# (title, [(curve name, legend label, colour)]): the first available metric of a run
SCORE_CURVES = (("bleu", "BLEU"), ("cider", "CIDEr-D"))
PLOTS = (
    ("Validation loss", (("val_loss", "validation loss", A_COLOUR),)),
    ("Attention entropy (nats)", (("entropy", "mean entropy", A_COLOUR),)),
    (
        "Agreement with the final epoch",
        (
            ("top1_to_final", "top-1 agreement", A_COLOUR),
            ("jsd_to_final", "JSD (bits)", B_COLOUR),
        ),
    ),
)


def score_curve(metric_names) -> tuple[str, str] | None:
    """The run's translation or caption score: (curve name, title), None without one."""
    return next(((name, title) for name, title in SCORE_CURVES if name in metric_names), None)


class EpochCurves(QtWidgets.QWidget):
    """The per-epoch curves of one EpochTrace; ``epochPicked(epoch)`` on a click."""

    epochPicked = QtCore.Signal(int)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.graphics.setToolTip(
            "Per epoch: the run's score and validation loss (metrics.jsonl), and the traced "
            "output's attention entropy and agreement with the final epoch; click to pick "
            "an epoch"
        )
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, tuple[tuple[int, float], ...]] = {}
        self._markers: list[pg.InfiniteLine] = []
        self.graphics.scene().sigMouseClicked.connect(self._on_clicked)

    def show_trace(self, trace) -> None:
        """Draw every curve ``trace`` (an EpochTrace) has; a missing one says so."""
        self.graphics.clear()
        self.plots.clear()
        self.curves.clear()
        self._markers.clear()
        score = score_curve(trace.run.metric_names())
        plots = list(PLOTS)
        if score is not None:
            plots.insert(0, (score[1], ((score[0], score[1], A_COLOUR),)))
        for index, (title, curves) in enumerate(plots):
            if index == 2:
                self.graphics.nextRow()  # two by two: each plot keeps a readable width
            plot = self.graphics.addPlot(title=title)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            plot.setLabel("bottom", "epoch")
            if len(curves) > 1:
                plot.addLegend(offset=(-4, 4))
            for name, label, colour in curves:
                points = _points(trace, name)
                self.curves[name] = points
                if points:
                    xs, ys = zip(*points, strict=True)
                    plot.plot(
                        xs,
                        ys,
                        pen=pg.mkPen(colour, width=2),
                        symbol="o",
                        symbolSize=5,
                        symbolBrush=colour,
                        name=label,
                    )
            marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(MARKER_COLOUR, width=2))
            plot.addItem(marker, ignoreBounds=True)
            self._markers.append(marker)
            self.plots[title] = plot

    def set_epoch(self, epoch: int) -> None:
        """Move the marker of every plot to ``epoch``."""
        for marker in self._markers:
            marker.setValue(epoch)

    def marker_epoch(self) -> float | None:
        return self._markers[0].value() if self._markers else None

    def _on_clicked(self, event) -> None:
        for plot in self.plots.values():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                x = plot.getViewBox().mapSceneToView(event.scenePos()).x()
                self.epochPicked.emit(round(x))
                return


def _points(trace, name: str) -> tuple[tuple[int, float], ...]:
    """(epoch, value) pairs of curve ``name``; () when the trace or run lacks it."""
    try:
        return trace.curve(name)
    except ValueError:
        return ()
