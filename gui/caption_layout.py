"""How the captioning workspace is built: its widgets and where each sits.

``CaptionLayout`` is a mixin of ``CaptionWorkspace`` (gui/caption_view.py), which
connects the widgets and shows snapshots in them: the picture source row (examples,
open, paste), the caption and its word chips, the what-if panel, the picture with its
mask tools beside the words-per-region chart, the word strip and the timeline.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.attention_strip import QtAttentionStrip
from attnscope.gui.caption_exports import STRIP_THUMB
from attnscope.gui.gallery import ExampleGallery
from attnscope.gui.image_overlay import QtImageAttentionOverlay
from attnscope.gui.image_what_if import MaskedResultPanel
from attnscope.gui.layer_head_picker import LayerHeadPicker
from attnscope.gui.mask_tools import MaskLayer, MaskToolbar
from attnscope.gui.region_words_chart import RegionWordsChart
from attnscope.gui.token_chips import TokenChips

GALLERY_MIN_WIDTH = 120  # px of example thumbnails before they scroll
HINT = (
    "Drop a picture here, paste one (Ctrl+V), open one (File > Open image, Ctrl+Shift+O) "
    "or pick an example above."
)


class CaptionLayout:
    """Builds and lays out the caption workspace's widgets (see the module docstring)."""

    def _build_widgets(self, example_paths) -> None:
        self.image_label = QLabel("<b>Image</b>: none yet")
        self.gallery = ExampleGallery(example_paths)
        self.open_button = self._tool_button("Open image…", "Open a picture (Ctrl+Shift+O)")
        self.paste_button = self._tool_button("Paste", "Caption the picture on the clipboard")
        self.caption_label = QLabel()
        self.caption_label.setWordWrap(True)
        self.caption_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.caption_label.setStyleSheet("font-size: 15px; padding: 4px;")
        self.chips = TokenChips()
        self.chips.setToolTip("Caption words: hover to see where each looked, click to select")
        self.word_label = QLabel()
        self.heads = LayerHeadPicker(grid=False)  # which layer and head the maps show
        self.head_box = self.heads.head_combo
        self._heads_shape = (1, 1)  # (layers, heads per layer) offered
        self.overlay = QtImageAttentionOverlay()
        self.overlay.graphics_view().setAcceptDrops(False)  # drops go to the window
        self.masks = MaskLayer(self.overlay, self)
        self.mask_bar = MaskToolbar(self.masks)
        self.addActions(self.mask_bar.all_actions)  # their shortcuts work over the workspace
        self.what_if_panel = MaskedResultPanel()
        self.hint = QLabel(HINT)
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setWordWrap(True)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.hint)
        self.pages.addWidget(self.overlay)
        self.region_chart = RegionWordsChart()
        self.region_scroll = QScrollArea()
        self.region_scroll.setWidget(self.region_chart)
        self.region_scroll.setWidgetResizable(True)
        self.strip = QtAttentionStrip(
            thumb_size=STRIP_THUMB, colormap_name=self.overlay.colormap_name()
        )
        self.strip.setMinimumHeight(STRIP_THUMB + 50)
        self.timeline = QSlider(Qt.Horizontal)
        self.timeline.setToolTip("Scrub the decode word by word")
        self.timeline.setRange(0, 0)
        self.paste_action = QAction("Paste image", self)
        self.paste_action.setShortcut(QKeySequence.Paste)
        self.paste_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.addAction(self.paste_action)

    def _tool_button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        return button

    def _layout_widgets(self) -> None:
        source_row = QHBoxLayout()
        source_row.addWidget(self.image_label)
        source_row.addStretch(1)
        source_row.addWidget(self._scrolled(self.gallery), 1)
        source_row.addWidget(self.open_button)
        source_row.addWidget(self.paste_button)
        word_row = QHBoxLayout()
        word_row.addWidget(self.word_label, 1)
        word_row.addWidget(self.heads)
        picture = QWidget()
        picture_layout = QVBoxLayout(picture)
        picture_layout.setContentsMargins(0, 0, 0, 0)
        picture_layout.addLayout(word_row)
        picture_layout.addWidget(self.mask_bar)
        picture_layout.addWidget(self.pages, 1)
        middle = QSplitter(Qt.Horizontal)
        middle.addWidget(picture)
        middle.addWidget(self.region_scroll)
        middle.setStretchFactor(0, 1)
        middle.setSizes([700, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(source_row)
        layout.addWidget(self.caption_label)
        layout.addWidget(self.chips)
        layout.addWidget(self.what_if_panel)
        layout.addWidget(middle, 1)
        layout.addWidget(self.strip)
        layout.addWidget(self.timeline)

    def _scrolled(self, gallery: QWidget) -> QScrollArea:
        """The example thumbnails scroll sideways rather than widening the window."""
        scroll = QScrollArea()
        scroll.setWidget(gallery)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        bar = scroll.horizontalScrollBar().sizeHint().height()
        scroll.setFixedHeight(gallery.sizeHint().height() + bar)
        scroll.setMinimumWidth(GALLERY_MIN_WIDTH)
        return scroll
