"""The caption's words as a strip of thumbnails, each showing where that word looked.

``QtAttentionStrip`` shows one small picture per caption word: the image with
that word's attention grid blended over it (``attention_render``). Live
decoding calls ``set_words`` after every step with one word more; thumbnails
of the unchanged prefix (same words, same grids, same picture and colours)
are kept, so a step costs one new thumbnail rather than a redraw of them all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from attnscope.gui.attention_render import attention_thumbnail, check_rgb, render_strip
from attnscope.gui.style import DEFAULT_COLORMAP, HIGHLIGHT_COLOUR, colormap


def rgb_to_qimage(rgb: np.ndarray) -> QtGui.QImage:
    """A deep-copied QImage of an (H, W, 3) uint8 array."""
    rgb = np.ascontiguousarray(check_rgb(rgb))
    height, width = rgb.shape[:2]
    return QtGui.QImage(
        rgb.data, width, height, 3 * width, QtGui.QImage.Format.Format_RGB888
    ).copy()


class _WordThumbnail(QtWidgets.QFrame):
    """A word's attention picture with the word under it."""

    def __init__(self, index: int, word: str, owner: QtAttentionStrip, width: int) -> None:
        super().__init__()
        self.index, self._owner = index, owner
        self.setObjectName("wordThumbnail")
        self.picture = QtWidgets.QLabel()
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        caption = QtWidgets.QLabel()
        caption.setText(
            caption.fontMetrics().elidedText(word, QtCore.Qt.TextElideMode.ElideRight, width)
        )
        caption.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(f"{word!r} (word {index + 1}): where the model looked; click to select")
        self.setFrameShape(QtWidgets.QFrame.Shape.Box)
        self.setLineWidth(2)
        self.set_selected(False)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.addWidget(self.picture)
        layout.addWidget(caption)
        layout.addStretch(1)

    def set_selected(self, selected: bool) -> None:
        colour = HIGHLIGHT_COLOUR if selected else "transparent"
        self.setStyleSheet(f"QFrame#wordThumbnail {{ border: 2px solid {colour}; }}")

    def enterEvent(self, event) -> None:
        self._owner.wordHovered.emit(self.index)
        super().enterEvent(event)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self._owner.select(self.index)
            self._owner.wordClicked.emit(self.index)
        super().mousePressEvent(event)


class QtAttentionStrip(QtWidgets.QWidget):
    """One thumbnail per caption word, each showing that word's attention over the image.

    Signals: ``wordHovered(index)`` and ``wordClicked(index)``.
    """

    wordHovered = QtCore.Signal(int)
    wordClicked = QtCore.Signal(int)

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        *,
        thumb_size: int = 96,
        colormap_name: str = DEFAULT_COLORMAP,
        mode: str = "smooth",
        opacity: float = 0.6,
    ) -> None:
        super().__init__(parent)
        colormap(colormap_name)  # validates the name early
        self._render_options = {"mode": mode, "colormap_name": colormap_name, "opacity": opacity}
        self._thumb_size = thumb_size
        self._image: np.ndarray | None = None
        self._words: list[str] = []
        self._grids: list[np.ndarray] = []  # (h, w) float32 each, private copies
        self._pictures: list[np.ndarray] = []  # (H, W, 3) uint8 shown for each word
        self._thumbs: list[_WordThumbnail] = []
        self._selected: int | None = None
        self._row = QtWidgets.QHBoxLayout()
        self._row.setContentsMargins(2, 2, 2, 2)
        self._row.addStretch(1)  # thumbnails are inserted before it
        content = QtWidgets.QWidget()
        content.setLayout(self._row)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(content)
        scroll.setWidgetResizable(True)
        scroll.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setToolTip("Attention of each caption word")
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    # ---------------------------------------------------------------- setters
    def set_image(self, rgb: np.ndarray | None) -> None:
        """The captioned picture (H, W, 3) uint8 the maps are drawn over (None: maps alone)."""
        self._image = None if rgb is None else check_rgb(rgb).copy()
        self._redraw_all()

    def set_colormap(self, name: str) -> None:
        """Colour map of the thumbnails by name (see ``attnscope.gui.style.COLORMAPS``)."""
        colormap(name)  # validates the name
        if name != self._render_options["colormap_name"]:
            self._render_options["colormap_name"] = name
            self._redraw_all()

    def set_words(self, words: Sequence[str], grids: Sequence[np.ndarray]) -> None:
        """One thumbnail per word; ``grids[i]`` is word i's (h, w) attention.

        Thumbnails of the leading words whose text and grid are unchanged are
        kept as they are; only the rest are drawn again.
        """
        if len(words) != len(grids):
            raise ValueError(f"{len(words)} words but {len(grids)} attention grids")
        words = list(words)
        grids = [np.array(g, dtype=np.float32) for g in grids]  # copies: callers may reuse theirs
        keep = self._unchanged_prefix(words, grids)
        self._drop_thumbnails_from(keep)
        self._words, self._grids = words, grids
        for index in range(keep, len(words)):
            self._add_thumbnail(index)

    def select(self, index: int | None) -> None:
        """Frame word ``index``'s thumbnail (None: none); kept across ``set_words``."""
        self._selected = index
        for thumb in self._thumbs:
            thumb.set_selected(thumb.index == index)

    # ---------------------------------------------------------------- getters
    def colormap_name(self) -> str:
        return self._render_options["colormap_name"]

    def thumbnail_count(self) -> int:
        return len(self._thumbs)

    def thumbnail_widget(self, index: int) -> QtWidgets.QFrame:
        return self._thumbs[index]

    def thumbnails(self) -> list[np.ndarray]:
        """The RGB picture shown for each word."""
        return [p.copy() for p in self._pictures]

    def render(self) -> np.ndarray:
        """The whole strip as one (H, W, 3) uint8 image with the words printed (for export)."""
        return render_strip(
            self._words,
            self._grids,
            self._image,
            thumb_size=self._thumb_size,
            **self._render_options,
        )

    # --------------------------------------------------------------- building
    def _unchanged_prefix(self, words: list[str], grids: list[np.ndarray]) -> int:
        """How many leading words already have the right thumbnail."""
        count = 0
        for old_word, old_grid, word, grid in zip(
            self._words, self._grids, words, grids, strict=False
        ):
            if old_word != word or not np.array_equal(old_grid, grid):
                break
            count += 1
        return count

    def _drop_thumbnails_from(self, index: int) -> None:
        for thumb in self._thumbs[index:]:
            self._row.removeWidget(thumb)
            thumb.deleteLater()
        del self._thumbs[index:], self._pictures[index:]

    def _add_thumbnail(self, index: int) -> None:
        """Draw word ``index``'s thumbnail and append it (before the trailing stretch)."""
        picture = attention_thumbnail(
            self._grids[index], self._image, self._thumb_size, **self._render_options
        )
        thumb = _WordThumbnail(index, self._words[index], self, max(picture.shape[1] - 8, 40))
        thumb.picture.setPixmap(QtGui.QPixmap.fromImage(rgb_to_qimage(picture)))
        thumb.set_selected(index == self._selected)
        self._row.insertWidget(index, thumb)
        self._pictures.append(picture)
        self._thumbs.append(thumb)

    def _redraw_all(self) -> None:
        """Draw every thumbnail again (the picture or the colours changed)."""
        self._drop_thumbnails_from(0)
        for index in range(len(self._words)):
            self._add_thumbnail(index)
