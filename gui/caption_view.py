"""The captioning workspace: the picture, the caption's words, and where each word looked.

The workspace never decodes a picture file itself: it remembers what the user
chose (a path, encoded bytes, or pixels Qt already decoded) as an
``ImageInput`` and the worker thread reads it when the session opens. The
picture shown is the one the worker sends back in each ``SessionSnapshot``
(``image`` (H, W, 3) uint8, ``grid`` (h, w), ``attention`` (T, heads, h·w)).
``attnscope.gui.caption_layout`` builds its widgets and
``attnscope.gui.caption_controller`` puts the workspace into the main window;
the chosen picture is an ``ImageInput`` (gui/image_input.py).
"""

from __future__ import annotations

import itertools

import numpy as np
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import QWidget

from attnscope.gui.attention_render import head_grids, small_copy
from attnscope.gui.caption_exports import STRIP_THUMB, CaptionExports
from attnscope.gui.caption_layout import HINT, CaptionLayout
from attnscope.gui.heatmap_layers import HEAD_MEAN, LayerHeadChoice, layer_count, valid_choice
from attnscope.gui.image_input import ImageInput, qimage_to_rgb

__all__ = ["CaptionWorkspace", "ImageInput", "caption_word", "qimage_to_rgb"]

STRIP_DELAY_MS = 500  # during Run the word strip (T thumbnails) redraws at most 2×/s
OFF_GRID_SHOWN = 0.005  # attention off the grid worth naming (grid rows sum to 1 ± rounding)
OFF_GRID_TIP = (
    "The weight on the encoder's [CLS] token (DeiT: and its distillation token), which is "
    "no cell of the picture: left out of the map, not spread over it"
)


def caption_word(piece: str) -> str:
    """A target piece as a caption word: the word-start marker dropped, blanks visible."""
    word = piece.lstrip("▁")
    return word if word.strip() else "␣"


class CaptionWorkspace(CaptionLayout, CaptionExports, QWidget):
    """Views captioning snapshots; emits the user's requests as signals."""

    stepSelected = Signal(int)
    imageChosen = Signal()  # a new picture waits to be captioned
    openRequested = Signal()
    pasteRequested = Signal()
    maskedViewChanged = Signal(bool)  # True while a masked re-caption is shown

    def __init__(self, parent: QWidget | None = None, *, example_paths=None) -> None:
        super().__init__(parent)
        self._serials = itertools.count(1)
        self._input: ImageInput | None = None
        self._snapshot = None
        self._attention: np.ndarray | None = None  # (T, heads, h·w) shown
        self._shown_image: np.ndarray | None = None
        self._grids: np.ndarray | None = None  # (T, h, w) for the chosen head
        self._words: list[str] = []
        self._selected: int | None = None
        self._region: tuple[int, int] | None = None
        self._streaming = False
        self._masked_view = False
        self._strip_timer = QTimer(self)
        self._strip_timer.setSingleShot(True)
        self._strip_timer.setInterval(STRIP_DELAY_MS)
        self._strip_timer.timeout.connect(self._refresh_strip)
        self._build_widgets(example_paths)
        self._layout_widgets()
        self._connect()

    def _connect(self) -> None:
        self.gallery.imageChosen.connect(self.set_image_path)
        self.open_button.clicked.connect(self.openRequested)
        self.paste_button.clicked.connect(self.pasteRequested)
        self.paste_action.triggered.connect(self.pasteRequested)
        self.chips.stepSelected.connect(self.stepSelected)
        self.chips.stepHovered.connect(self._show_word)
        self.strip.wordClicked.connect(self.stepSelected)
        self.strip.wordHovered.connect(self._show_word)
        for widget in (self.chips, self.strip):
            widget.installEventFilter(self)
        self.region_chart.wordClicked.connect(self.stepSelected)
        self.overlay.regionClicked.connect(self.show_region)
        self.overlay.colormapChanged.connect(self.strip.set_colormap)
        self.heads.layerChosen.connect(self._on_layer_chosen)
        self.heads.headChosen.connect(self._on_head_chosen)
        self.timeline.valueChanged.connect(lambda v: self.stepSelected.emit(v - 1) if v else None)

    # -- the picture -------------------------------------------------
    def set_image_path(self, path: str) -> None:
        self._choose(str(path), path.replace("\\", "/").rsplit("/", 1)[-1])

    def set_image_bytes(self, data: bytes, name: str = "dropped image") -> None:
        self._choose(bytes(data), name)

    def set_image_array(self, rgb: np.ndarray, name: str = "pasted image") -> None:
        self._choose(np.ascontiguousarray(rgb, dtype=np.uint8), name)

    def _choose(self, source, name: str) -> None:
        self._input = ImageInput(source, name, next(self._serials))
        self._region = None
        self.overlay.highlight_cell(None)
        self.masks.set_picture_shape(None)  # a new picture: its mask starts afresh
        self.image_label.setText(f"<b>Image</b>: {name}")
        self.hint.setText(f"Reading {name}…")
        self.pages.setCurrentWidget(self.hint)
        self.imageChosen.emit()

    def image_source(self):
        """What the worker decodes (path, bytes or RGB array), or None before any choice."""
        return None if self._input is None else self._input.source

    def image_key(self) -> tuple[str, int] | None:
        """Identifies the current choice (arrays cannot be compared cheaply)."""
        return None if self._input is None else ("image", self._input.serial)

    def image_name(self) -> str:
        return "" if self._input is None else self._input.name

    def image_failed(self, message: str) -> None:
        """The worker could not read the chosen picture: say so in the picture pane."""
        self._shown_image = None
        self._failed_choice = self.image_key()  # a late paint of the last decode keeps out
        self.hint.setText(f"Could not caption {self.image_name()}: {message}\n\n{HINT}")
        self.pages.setCurrentWidget(self.hint)

    # -- snapshots ---------------------------------------------------
    def show_snapshot(self, snapshot, selected: int | None) -> None:
        """Draw ``snapshot`` (an engine SessionSnapshot of a captioning session); while the
        chosen picture is one the worker refused, a paint of an earlier decode is ignored."""
        failed = getattr(self, "_failed_choice", None)
        if failed is not None and failed == self.image_key():
            return
        self._failed_choice = None
        self._snapshot = snapshot
        self._set_masked_view(False)
        if snapshot.image is not None and snapshot.image is not self._shown_image:
            self._show_picture(snapshot.image)
        self._set_decode(
            snapshot.target_pieces,
            [s.log_prob for s in snapshot.steps],
            snapshot.attention,
            snapshot.steps,
        )
        self.caption_label.setText(snapshot.target_text or "<i>(press Step or Run)</i>")
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, len(snapshot.steps))
        self.timeline.setValue(0 if selected is None else selected + 1)
        self.timeline.blockSignals(False)
        self.select_step(selected)

    def show_masked_decode(self, snapshot) -> None:
        """Show a masked re-caption (its masked picture, words and maps) in place of the
        original; ``show_snapshot`` of the original brings that back."""
        self.show_snapshot(snapshot, len(snapshot.steps) - 1 if snapshot.steps else None)
        self.caption_label.setText(f"{snapshot.target_text} <i>(the masked picture)</i>")
        self._set_masked_view(True)

    def _set_masked_view(self, masked: bool) -> None:
        if masked != self._masked_view:
            self._masked_view = masked
            self.masks.set_visible(not masked)  # the fill itself is on the picture
            self.maskedViewChanged.emit(masked)

    def showing_masked(self) -> bool:
        return self._masked_view

    def show_hypothesis(self, pieces, log_probs, attention: np.ndarray | None) -> None:
        """Show another hypothesis of the same picture (a beam node's path).

        attention: (T, heads, h·w) of that path, T = len(pieces).
        """
        if self._snapshot is None:
            return
        self._set_decode(pieces, log_probs, attention)
        self.caption_label.setText(" ".join(caption_word(p) for p in pieces))
        self.select_step(len(pieces) - 1 if len(pieces) else None)

    def _set_decode(self, pieces, log_probs, attention: np.ndarray | None, steps=None) -> None:
        """steps: the snapshot's TokenSteps (None for a beam hypothesis's path)."""
        self.chips.set_tokens(list(pieces), list(log_probs), steps)
        self._attention = attention
        self._set_heads_shape(0 if attention is None else attention.shape[1])
        self._words = [caption_word(p) for p in pieces]
        self._refresh_maps()

    def _show_picture(self, rgb: np.ndarray) -> None:
        self._shown_image = rgb
        self.overlay.set_image(rgb)
        self.masks.set_picture_shape(rgb.shape[:2])
        self.strip.set_image(small_copy(rgb, STRIP_THUMB))
        size = f"{rgb.shape[1]}×{rgb.shape[0]}"
        self.image_label.setText(f"<b>Image</b>: {self.image_name()} ({size})")
        self.pages.setCurrentWidget(self.overlay)

    def _refresh_maps(self) -> None:
        """Recompute the chosen head's grids and redraw the strip and region chart."""
        grid = None if self._snapshot is None else self._snapshot.grid
        self._grids = head_grids(self._attention, grid, self.heads.choice(), self._heads_shape[0])
        if self._streaming:
            self._strip_timer.start()  # coalesce: the strip redraws every word
        else:
            self._refresh_strip()
        self._refresh_region()

    def _refresh_strip(self) -> None:
        """Hand the strip every word's map; it redraws only the words that changed."""
        grids = [] if self._grids is None else list(self._grids)
        self.strip.set_words(self._words[: len(grids)], grids)

    def set_streaming(self, streaming: bool) -> None:
        """While a Run streams snapshots, the strip redraws at most every STRIP_DELAY_MS."""
        self._streaming = streaming  # a pending redraw still fires; the next snapshot is drawn now

    def select_step(self, step: int | None) -> None:
        self._selected = step
        self.chips.select(step)
        self.strip.select(step)
        self._show_word(step)

    def _show_word(self, step: int | None) -> None:
        """Lay word ``step``'s map over the picture (None or out of range: no overlay)."""
        if self._grids is None or step is None or not 0 <= step < len(self._grids):
            self.overlay.set_attention(None)
            none = self._snapshot is not None and self._attention is None
            self.word_label.setText("This model has no attention." if none else "")
            return
        grid = self._grids[step]
        self.overlay.set_attention(grid)
        text = f"<b>Word {step + 1}</b>: “{self._words[step]}”"
        # a ViT/BLIP encoder's [CLS] token (DeiT: and its distillation token) is no cell:
        # its weight is left out of the grid, not spread over it (docs/hf-captioning.md)
        off_grid = 1.0 - float(grid.sum())
        shown = off_grid >= OFF_GRID_SHOWN
        if shown:
            text += f" · {off_grid:.0%} on [CLS]"
        self.word_label.setText(text)
        self.word_label.setToolTip(OFF_GRID_TIP if shown else "")

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Leave and watched in (self.chips, self.strip):
            self._show_word(self._selected)  # hovering ended: back to the selected word
        return super().eventFilter(watched, event)

    # -- heads ---------------------------------------------------------
    def _set_heads_shape(self, rows: int) -> None:
        """Offer the layers × heads of attention with ``rows`` rows a step (layer-major)."""
        layers = layer_count(rows, self._snapshot.num_layers if self._snapshot else 1)
        shape = (layers, rows // layers)
        if shape != self._heads_shape:
            self._heads_shape = shape
            self.heads.set_shape(*shape, valid_choice(self.heads.choice(), *shape))

    def head(self) -> int | None:
        """The head the maps show (of the layer shown), or None for the mean of heads."""
        head = self.heads.choice().head
        return head if isinstance(head, int) else None

    def set_head(self, head: int | None) -> None:
        """Show head ``head`` of the layer shown (None: the mean of its heads)."""
        choice = self.heads.choice()
        self._show_choice(choice.with_head(HEAD_MEAN if head is None else head, *self._heads_shape))

    def _on_layer_chosen(self, layer) -> None:
        self._show_choice(self.heads.choice().with_layer(layer, *self._heads_shape))

    def _on_head_chosen(self, _head) -> None:
        self._show_choice(self.heads.choice())

    def _show_choice(self, choice: LayerHeadChoice) -> None:
        self.heads.show_choice(choice)
        self._refresh_maps()
        self._show_word(self._selected)

    # -- reverse look-up -------------------------------------------------
    def show_region(self, gx: int, gy: int) -> None:
        """List how much each caption word attended to grid cell (column gx, row gy)."""
        self._region = (gx, gy)
        self.overlay.highlight_cell(gx, gy)
        self._refresh_region()

    def _refresh_region(self) -> None:
        grids = self._grids
        if self._region is None or grids is None or not len(grids):
            self.region_chart.clear()
            return
        gx, gy = self._region
        h, w = grids.shape[1:]
        if not (0 <= gx < w and 0 <= gy < h):
            self.region_chart.clear()
            return
        self.region_chart.set_region(
            f"Words that looked at row {gy + 1}, column {gx + 1} (of {h}×{w}):",
            self._words[: len(grids)],
            grids[:, gy, gx],
        )
