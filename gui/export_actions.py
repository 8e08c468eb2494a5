"""File > Export: the heat map as PNG/SVG, the matrix as CSV/.npy, word alignments, the
decode as JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from attnscope.gui import exports
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.heatmap import QtAttentionHeatmap

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


def decode_record(state: DecodeState, *, image: str | None = None, image_path=None) -> dict:
    """The shown decode as a decode record (engine/decode_record.py, the one writer).

    ``settings`` is the DecodeConfig the shown decode used; for a reference check that
    is the user's settings its comparison decode ran with. ``image``/``image_path``: the
    picture's name and path when captioning (see ``snapshot_record``).
    """
    from attnscope.engine.decode_record import snapshot_record

    summary = state.summary
    return snapshot_record(
        state.snapshot,
        model=summary.path if summary is not None else None,
        settings=state.decode_config,
        reference=state.reference,
        report=state.report if state.reference is not None else None,
        image=image,
        image_path=image_path,
    )


class Exporter:
    """Writes the shown decode in each format; every method takes the target path.

    ``ask_and_export`` asks where first (a File > Export entry); ``parent`` is the
    dialog's parent and ``show_message`` tells the user how it went.
    """

    def __init__(
        self,
        state: DecodeState,
        heatmap: QtAttentionHeatmap,
        *,
        parent: QWidget,
        show_message: Callable[[str, str], None],
    ) -> None:
        self.state = state
        self.heatmap = heatmap
        self.parent = parent
        self.show_message = show_message

    def _matrix(self) -> np.ndarray:
        return self.heatmap.matrix()

    def heatmap_png(self, path: str) -> None:
        exports.export_heatmap_png(self.heatmap, path)

    def heatmap_svg(self, path: str) -> None:
        exports.export_heatmap_svg(self.heatmap, path)

    def matrix_csv(self, path: str) -> None:
        heatmap = self.heatmap
        exports.export_matrix_csv(
            self._matrix(), heatmap.source_tokens(), heatmap.target_tokens(), path
        )

    def matrix_npy(self, path: str) -> None:
        attention = self.state.snapshot.attention
        exports.export_matrix_npy(attention if attention is not None else self._matrix(), path)

    def alignment_txt(self, path: str) -> None:
        """One line: ``source-target`` word links read off the attention."""
        links = word_alignment(self.state.snapshot)
        if links is None:
            raise ValueError("this model has no attention to read word alignments from")
        Path(path).write_text(links + "\n", encoding="utf-8")

    def decode_json(self, path: str) -> None:
        exports.export_decode_json(decode_record(self.state), path)

    def add_actions(self, menu: QMenu) -> None:
        """One File > Export entry per format."""
        for label, file_filter, suffix, method in EXPORTS:
            action = QAction(label, menu)
            action.setStatusTip(f"Export: {label.rstrip('…').lower()}")
            action.triggered.connect(
                lambda _=False, f=file_filter, s=suffix, m=method: self.ask_and_export(f, s, m)
            )
            menu.addAction(action)

    def ask_and_export(self, file_filter: str, suffix: str, method: str) -> None:
        """Ask for a file name, then write it with writer ``method``; say how it went."""
        snapshot = self.state.snapshot
        if snapshot is None or not snapshot.steps:
            self.show_message("Nothing to export yet: decode something first.", "warning")
            return
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Export", f"attnscope{suffix}", file_filter
        )
        if not path:
            return
        if not Path(path).suffix:
            path += suffix
        try:
            getattr(self, method)(path)
        except OSError as exc:
            self.show_message(f"Could not write {path}: {exc.strerror or exc}", "error")
        except ValueError as exc:
            self.show_message(f"Nothing written: {exc}.", "warning")
        else:
            self.show_message(f"Exported {Path(path).name}", "info")
