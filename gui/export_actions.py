"""File > Export: the heat map as PNG/SVG, the matrix as CSV/.npy, word alignments, the
decode as JSON."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu

from attnscope.gui import exports

# label, file filter, default suffix, writer method name
EXPORTS = (
    ("Heat map as PNG…", "PNG image (*.png)", ".png", "heatmap_png"),
    ("Heat map as SVG…", "SVG image (*.svg)", ".svg", "heatmap_svg"),
    ("Attention matrix as CSV…", "CSV (*.csv)", ".csv", "matrix_csv"),
    ("Attention matrix as NumPy…", "NumPy array (*.npy)", ".npy", "matrix_npy"),
    ("Word alignment (Pharaoh)…", "Text (*.txt)", ".txt", "alignment_txt"),
    ("Whole decode as JSON…", "JSON (*.json)", ".json", "decode_json"),
)


def word_alignment(snapshot) -> str | None:
    """The shown translation's word links in Pharaoh format, None without attention."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    if snapshot.attention is None or not snapshot.source_pieces:
        return None
    return pharaoh(
        hard_alignment(snapshot.attention, snapshot.source_pieces, snapshot.target_pieces)
    )


def decode_payload(window) -> dict:
    """Input, settings, tokens, scores, top-k and attention of the shown decode."""
    snapshot = window.snapshot
    config = window.requests.config
    payload = {
        "model": window.summary.path if window.summary else None,
        "source": snapshot.source_text,
        "source_pieces": list(snapshot.source_pieces),
        "settings": asdict(config) if config is not None else {},
        "translation": snapshot.target_text,
        "steps": [
            {
                "token_id": s.token_id,
                "piece": s.piece,
                "log_prob": s.log_prob,
                "forced": s.forced,
                "topk": [
                    {"token_id": int(i), "piece": p, "prob": float(q)}
                    for i, p, q in zip(s.topk_ids, s.topk_pieces, s.topk_probs, strict=True)
                ],
            }
            for s in snapshot.steps
        ],
        "attention": snapshot.attention,
        "alignment": word_alignment(snapshot),
        "grid": snapshot.grid,
    }
    report = window.reference_check.report
    if window.requests.reference is not None and report is not None:
        payload["reference_check"] = {"reference": window.requests.reference, **report.as_dict()}
    return payload


class Exporter:
    """Writes the shown decode in each format; every method takes the target path."""

    def __init__(self, window) -> None:
        self.window = window

    def _matrix(self) -> np.ndarray:
        return self.window.translate_view.heatmap.matrix()

    def heatmap_png(self, path: str) -> None:
        exports.export_heatmap_png(self.window.translate_view.heatmap, path)

    def heatmap_svg(self, path: str) -> None:
        exports.export_heatmap_svg(self.window.translate_view.heatmap, path)

    def matrix_csv(self, path: str) -> None:
        heatmap = self.window.translate_view.heatmap
        exports.export_matrix_csv(
            self._matrix(), heatmap.source_tokens(), heatmap.target_tokens(), path
        )

    def matrix_npy(self, path: str) -> None:
        attention = self.window.snapshot.attention
        exports.export_matrix_npy(attention if attention is not None else self._matrix(), path)

    def alignment_txt(self, path: str) -> None:
        """One line: ``source-target`` word links read off the attention."""
        links = word_alignment(self.window.snapshot)
        if links is None:
            raise ValueError("this model has no attention to read word alignments from")
        Path(path).write_text(links + "\n", encoding="utf-8")

    def decode_json(self, path: str) -> None:
        exports.export_decode_json(decode_payload(self.window), path)


def attach_export_actions(window, menu: QMenu) -> None:
    exporter = Exporter(window)
    window.exporter = exporter
    for label, file_filter, suffix, method in EXPORTS:
        action = QAction(label, window)
        action.setStatusTip(f"Export: {label.rstrip('…').lower()}")
        action.triggered.connect(
            lambda _=False, f=file_filter, s=suffix, m=method: _ask_and_export(window, f, s, m)
        )
        menu.addAction(action)


def _ask_and_export(window, file_filter: str, suffix: str, method: str) -> None:
    if window.snapshot is None or not window.snapshot.steps:
        window.show_message("Nothing to export yet: decode something first.", "warning")
        return
    path, _ = QFileDialog.getSaveFileName(window, "Export", f"attnscope{suffix}", file_filter)
    if not path:
        return
    if not Path(path).suffix:
        path += suffix
    try:
        getattr(window.exporter, method)(path)
    except OSError as exc:
        window.show_message(f"Could not write {path}: {exc.strerror or exc}", "error")
    except ValueError as exc:
        window.show_message(f"Nothing written: {exc}.", "warning")
    else:
        window.show_message(f"Exported {Path(path).name}", "info")
