"""Drawing image-captioning attention with numpy and Pillow alone (no Qt, no screen).

The encoder sees an image as an (h, w) grid of cells; each caption word
attends over those cells. These functions stretch such a grid to picture size
(``upsample_attention``: bilinear "smooth" or nearest "blocky"), colour it and
lay it over the picture (``blend_attention``), shrink that to a thumbnail
(``attention_thumbnail``) and put every word's thumbnail side by side with the
word printed below (``render_strip``); ``head_grids`` turns a decode's
attention (T, layers·heads, h·w) into per-word maps (T, h, w) of a layer and head. The Qt views
(``image_overlay``, ``attention_strip``) and the exports draw with them.

Grids are normalised by their maximum before colouring: a softmax over 49
cells rarely exceeds 0.2, and the eye needs the full colour range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from attnscope.gui.heatmap_layers import LayerHeadChoice, layer_count, shown_matrix, valid_choice
from attnscope.gui.style import DEFAULT_COLORMAP, colorize, elide


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    return np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)


def _linear_index(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Half-pixel-centred source positions: lower index, upper index, fraction."""
    pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(pos).astype(np.intp)
    return low, np.minimum(low + 1, n_in - 1), (pos - low).astype(np.float32)


def _upsample_nearest(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    rows, cols = _nearest_index(grid.shape[0], height), _nearest_index(grid.shape[1], width)
    return grid[np.ix_(rows, cols)]


def _upsample_bilinear(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    r0, r1, rt = _linear_index(grid.shape[0], height)
    c0, c1, ct = _linear_index(grid.shape[1], width)
    by_row = grid[r0] * (1 - rt)[:, None] + grid[r1] * rt[:, None]  # (height, w)
    return by_row[:, c0] * (1 - ct) + by_row[:, c1] * ct  # (height, width)


UPSAMPLERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "smooth": _upsample_bilinear,
    "blocky": _upsample_nearest,
}


def check_mode(mode: str) -> str:
    """``mode`` if it names an upsampler; ValueError listing the valid ones otherwise."""
    if mode not in UPSAMPLERS:
        raise ValueError(
            f"unknown upsampling mode {mode!r}; choose one of: {', '.join(UPSAMPLERS)}"
        )
    return mode


def check_grid(grid: np.ndarray) -> np.ndarray:
    """``grid`` as float32 if it is a non-empty (h, w) array; ValueError otherwise."""
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"attention grid must be a non-empty (h, w) array, got shape {grid.shape}")
    return grid


def upsample_attention(
    grid: np.ndarray, height: int, width: int, mode: str = "smooth"
) -> np.ndarray:
    """Stretch an attention grid (h, w) to (height, width) float32 ("smooth" or "blocky")."""
    check_mode(mode)
    grid = check_grid(grid)
    return UPSAMPLERS[mode](grid, height, width).astype(np.float32)


def normalize_attention(grid: np.ndarray) -> np.ndarray:
    """(h, w) grid scaled so its maximum is 1 (all zeros stays zeros)."""
    grid = np.nan_to_num(np.asarray(grid, dtype=np.float32))
    peak = float(grid.max()) if grid.size else 0.0
    return grid / peak if peak > 0 else np.zeros_like(grid)


def head_grids(
    attention: np.ndarray | None,
    grid: tuple[int, int] | None,
    choice: LayerHeadChoice,
    layers: int = 1,
) -> np.ndarray | None:
    """Attention (T, layers·heads, h·w), layer-major, as maps (T, h, w) for a layer and
    head ``choice`` (gui/heatmap_layers.py): one head, a layer's mean, or every layer's."""
    if attention is None or grid is None:
        return None
    attention = np.asarray(attention, dtype=np.float32)
    layers = layer_count(attention.shape[1], layers)
    choice = valid_choice(choice, layers, attention.shape[1] // layers)
    rows = shown_matrix(attention, layers, choice)  # (T, h·w)
    return rows.reshape(len(rows), *grid)


def blend_attention(
    rgb: np.ndarray,
    grid: np.ndarray,
    *,
    mode: str = "smooth",
    colormap_name: str = DEFAULT_COLORMAP,
    opacity: float = 0.6,
) -> np.ndarray:
    """The image (H, W, 3) uint8 with the coloured, upsampled grid blended on top -> (H, W, 3) uint8."""
    rgb = check_rgb(rgb)
    heat = upsample_attention(normalize_attention(grid), rgb.shape[0], rgb.shape[1], mode)
    colours = colorize(heat, colormap_name).astype(np.float32)  # (H, W, 3)
    alpha = float(np.clip(opacity, 0.0, 1.0))
    return np.rint((1 - alpha) * rgb.astype(np.float32) + alpha * colours).astype(np.uint8)


def small_copy(rgb: np.ndarray, side: int) -> np.ndarray:
    """``rgb`` (H, W, 3) shrunk so its longest side is at most ``side`` (for thumbnails)."""
    picture = Image.fromarray(rgb)
    picture.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(picture)


def attention_thumbnail(
    grid: np.ndarray,
    image: np.ndarray | None,
    size: int,
    *,
    mode: str,
    colormap_name: str,
    opacity: float,
) -> np.ndarray:
    """One word's map as a small RGB picture (H, W, 3) uint8, longest side ``size``."""
    if image is None:
        h, w = np.asarray(grid).shape
        scale = size / max(h, w)
        heat = upsample_attention(
            normalize_attention(grid), round(h * scale), round(w * scale), mode
        )
        return colorize(heat, colormap_name)
    rgb = check_rgb(image)
    scale = size / max(rgb.shape[:2])
    small_size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(small_size, Image.Resampling.BILINEAR))
    return blend_attention(small, grid, mode=mode, colormap_name=colormap_name, opacity=opacity)


def render_strip(
    words: Sequence[str],
    grids: Sequence[np.ndarray],
    image: np.ndarray | None = None,
    *,
    thumb_size: int = 96,
    mode: str = "smooth",
    colormap_name: str = DEFAULT_COLORMAP,
    opacity: float = 0.6,
) -> np.ndarray:
    """All words' maps side by side with each word printed below -> (H, W, 3) uint8 (for export)."""
    if len(words) != len(grids):
        raise ValueError(f"{len(words)} words but {len(grids)} attention grids")
    gap, label_height = 6, 22
    thumbs = [
        attention_thumbnail(
            g, image, thumb_size, mode=mode, colormap_name=colormap_name, opacity=opacity
        )
        for g in grids
    ]
    height = max((t.shape[0] for t in thumbs), default=thumb_size) + label_height + 2 * gap
    width = sum(t.shape[1] + gap for t in thumbs) + gap
    canvas = Image.new("RGB", (max(width, 1), height), "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=13)
    x = gap
    for word, thumb in zip(words, thumbs, strict=True):
        canvas.paste(Image.fromarray(thumb), (x, gap))
        label = elide(word, max(3, thumb.shape[1] // 8))
        text_width = draw.textlength(label, font=font)
        draw.text(
            (x + (thumb.shape[1] - text_width) / 2, height - label_height - gap / 2),
            label,
            fill="black",
            font=font,
        )
        x += thumb.shape[1] + gap
    return np.asarray(canvas)


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as an array if it is an (H, W, 3) uint8 picture; ValueError otherwise."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got shape {rgb.shape} dtype {rgb.dtype}")
    return rgb
