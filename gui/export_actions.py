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
    (
        "Attention matrix as NumPy (T, layers, heads, S)…",
        "NumPy array (*.npy)",
        ".npy",
        "matrix_npy",
    ),
    ("Word alignment (Pharaoh)…", "Text (*.txt)", ".txt", "alignment_txt"),
    ("Whole decode as JSON…", "JSON (*.json)", ".json", "decode_json"),
)
# what each entry writes, as its tooltip and status tip
EXPORT_TIPS = {
    "heatmap_png": "The heat map as shown (the chosen beam hypothesis, if any) as a PNG picture",
    "heatmap_svg": "The heat map as shown (the chosen beam hypothesis, if any) as an SVG drawing",
    "matrix_csv": "The shown matrix (the layer and head picked, a mean, or the rollout): a "
    "row per target token, a column per source token",
    "matrix_npy": "The shown hypothesis's attention, float32 of shape (T, layers, heads, S): "
    "T target steps, every layer's every head, S source tokens (one layer for RNN models; "
    "the CSV has the shown head or the mean)",
    "alignment_txt": "Word links of the shown hypothesis, read off its attention (Pharaoh i-j)",
    "decode_json": "The whole decode (best hypothesis, n-best, every step's candidates)",
}


def shown_hypothesis(snapshot, node_id: int | None) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """(attention (T, heads, S) or None, target pieces) of what the heat map shows: the beam
    node ``node_id``'s hypothesis when one was chosen in the beam tree, else the decode's."""
    tree = snapshot.tree
    if node_id is None or tree is None or snapshot.node_attention is None:
        return snapshot.attention, tuple(snapshot.target_pieces)
    if not 0 < node_id < len(tree):
        return snapshot.attention, tuple(snapshot.target_pieces)
    path = tree.path(node_id)
    return snapshot.node_attention[path], tuple(snapshot.node_pieces[n] for n in path)


def word_alignment(snapshot, node_id: int | None = None) -> str | None:
    """The shown translation's word links in Pharaoh format (beam node ``node_id``'s when
    one is chosen), None without attention."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    attention, target_pieces = shown_hypothesis(snapshot, node_id)
    if attention is None or not snapshot.source_pieces:
        return None
    return pharaoh(hard_alignment(attention, snapshot.source_pieces, target_pieces))


def decode_record(
    state: DecodeState, *, image: str | None = None, image_path=None, attributions=()
) -> dict:
    """The shown decode as a decode record (engine/decode_record.py, the one writer).

    ``settings`` is the DecodeConfig the shown decode used; for a reference check that
    is the user's settings its comparison decode ran with. ``image``/``image_path``: the
    picture's name and path when captioning (see ``snapshot_record``); ``attributions``:
    the steps the Explain panel explained (``attribution_entry`` dicts).
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
        attributions=attributions,
    )


def no_attributions() -> list:
    """What an exporter writes as ``attributions`` until the Explain panel offers its own."""
    return []


class Exporter:
    """Writes the shown decode in each format; every method takes the target path.

    ``ask_and_export`` asks where first (a File > Export entry); ``parent`` is the
    dialog's parent and ``show_message`` tells the user how it went. The attention
    written is what the heat map shows: after ``show_node`` (a hypothesis chosen in the
    beam tree) that hypothesis's, until the next snapshot redraws the decode's own.
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
        self.node_id: int | None = None  # the beam hypothesis the heat map shows, if chosen
        self.attributions = no_attributions  # the Explain panel's explained steps (explain_window)
        state.snapshotChanged.connect(self._on_snapshot_changed)

    def show_node(self, node_id: int) -> None:
        """The heat map now shows beam node ``node_id``'s hypothesis (the beam tree's pick)."""
        self.node_id = node_id

    def _on_snapshot_changed(self, _snapshot) -> None:
        self.node_id = None  # a new snapshot is drawn as the decode's own hypothesis

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
        """(T, layers, heads, S) float32: the shown hypothesis's attention, every head."""
        from attnscope.engine.attention_layers import split

        snapshot = self.state.snapshot
        attention, _ = shown_hypothesis(snapshot, self.node_id)
        if attention is not None:
            attention = split(attention, snapshot.num_layers)
        exports.export_matrix_npy(attention if attention is not None else self._matrix(), path)

    def alignment_txt(self, path: str) -> None:
        """One line: ``source-target`` word links read off the attention."""
        links = word_alignment(self.state.snapshot, self.node_id)
        if links is None:
            raise ValueError("this model has no attention to read word alignments from")
        Path(path).write_text(links + "\n", encoding="utf-8")

    def decode_json(self, path: str) -> None:
        record = decode_record(self.state, attributions=self.attributions())
        exports.export_decode_json(record, path)

    def add_actions(self, menu: QMenu) -> None:
        """One File > Export entry per format, each saying what it writes in its tooltip."""
        menu.setToolTipsVisible(True)
        for label, file_filter, suffix, method in EXPORTS:
            action = QAction(label, menu)
            action.setStatusTip(EXPORT_TIPS[method])
            action.setToolTip(EXPORT_TIPS[method])
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
