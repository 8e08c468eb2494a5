"""What the caption exports read from the caption workspace (gui/caption_view.py).

``CaptionExports`` is a mixin of ``CaptionWorkspace``: the selected word's grid,
the picture with its map at full resolution, the word strip, and every head's
maps, each computed from what the workspace shows (``_grids`` (T, h, w) of the
chosen head, ``_attention`` (T, heads, h·w), ``_snapshot``, ``_shown_image``).
"""

from __future__ import annotations

import numpy as np

from attnscope.engine.attention_layers import split
from attnscope.gui.attention_render import render_strip, small_copy

STRIP_THUMB = 96


class CaptionExports:
    """The caption workspace's export views (see the module docstring)."""

    def shown_grid(self) -> np.ndarray | None:
        """The (h, w) grid of the selected word (what the overlay shows), or None."""
        step = self._selected
        if self._grids is None or step is None or not 0 <= step < len(self._grids):
            return None
        return self._grids[step].copy()

    def render_overlay(self) -> np.ndarray | None:
        """The picture with the selected word's map, full resolution (H, W, 3) uint8."""
        self._show_word(self._selected)
        return self.overlay.render()

    def render_strip(self) -> np.ndarray | None:
        """Every word's map side by side with the words printed (H, W, 3) uint8."""
        if self._grids is None or self._shown_image is None or not len(self._grids):
            return None
        picture = small_copy(self._shown_image, 4 * STRIP_THUMB)
        return render_strip(
            self._words[: len(self._grids)],
            list(self._grids),
            picture,
            thumb_size=2 * STRIP_THUMB,
            mode=self.overlay.mode(),
            colormap_name=self.overlay.colormap_name(),
            opacity=self.overlay.opacity(),
        )

    def attention_grids(self) -> np.ndarray | None:
        """All heads' maps (T, layers, heads, h, w) float32, or None without attention."""
        if self._snapshot is None or self._attention is None or self._snapshot.grid is None:
            return None
        attention = split(np.asarray(self._attention, dtype=np.float32), self._snapshot.num_layers)
        return attention.reshape(*attention.shape[:3], *self._snapshot.grid)
