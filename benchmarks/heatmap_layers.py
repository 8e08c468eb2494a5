"""How long the heat map takes to show layered attention: each layer × head view, measured.

A Hugging Face decoder reports ``layers · heads`` attention rows a step; Marian base has
6 layers × 8 heads. This sets random attention of that shape on a real
``QtAttentionHeatmap`` (offscreen Qt) one row longer each time, the way a live decode
does, and times ``set_heads`` plus the repaint it triggers, for the mean of every layer,
one layer's head, the rollout and the grid of 48 panels (and the grid's first build).

    QT_QPA_PLATFORM=offscreen python -m benchmarks.heatmap_layers --repeats 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np

LAYERS, HEADS = 6, 8  # Marian base's decoder
SOURCE = 30  # source tokens


def _weights(rows: int, seed: int = 0) -> np.ndarray:
    """(rows, LAYERS·HEADS, SOURCE) float32, each row summing to 1."""
    weights = np.random.default_rng(seed).random((rows, LAYERS * HEADS, SOURCE))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def _time_views(heatmap, app, weights: np.ndarray, mixing: np.ndarray, repeats: int) -> dict:
    """Median and max ms of set_heads + repaint per view, T = 10 .. 10 + repeats - 1."""
    from attnscope.gui.heatmap import HEAD_GRID, HEAD_MEAN, LAYER_MEAN

    figures = {}
    views = {
        "mean_of_layers": (LAYER_MEAN, HEAD_MEAN, False),
        "one_head": (2, 3, False),
        "rollout": (LAYER_MEAN, HEAD_MEAN, True),
        "grid": (LAYER_MEAN, HEAD_GRID, False),
    }
    for name, (layer, head, rolled) in views.items():
        heatmap.set_rollout(False)
        heatmap.set_layer_mode(layer)
        started = time.perf_counter()
        heatmap.set_head_mode(head)
        heatmap.set_rollout(rolled)
        app.processEvents()
        first_ms = 1000 * (time.perf_counter() - started)
        times = []
        for rows in range(10, 10 + repeats):
            started = time.perf_counter()
            heatmap.set_heads(weights[:rows], layers=LAYERS, source_mixing=mixing)
            heatmap.repaint()
            app.processEvents()
            times.append(1000 * (time.perf_counter() - started))
        figures[name] = {
            "switch_ms": round(first_ms, 1),
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
        }
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="updates timed per view")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from attnscope.gui.heatmap import QtAttentionHeatmap

    app = QApplication.instance() or QApplication([])
    heatmap = QtAttentionHeatmap()
    heatmap.resize(700, 500)
    heatmap.show()
    weights = _weights(10 + args.repeats)
    mixing = np.eye(SOURCE, dtype=np.float32)  # the cost of rollout does not depend on M
    heatmap.set_heads(weights[:10], layers=LAYERS, source_mixing=mixing)
    app.processEvents()
    figures = _time_views(heatmap, app, weights, mixing, args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    shape = {"layers": LAYERS, "heads": HEADS, "source": SOURCE, "rows": f"10..{9 + args.repeats}"}
    print(json.dumps({"shape": shape, "load_1min": load, "views": figures}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
