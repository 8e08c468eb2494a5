"""Image what-if: pixel masks over a picture and the fills that hide what lies under them.

A mask is a (H, W) bool array over the picture's own pixels (True = hidden).
It is drawn as a rectangle (``rect_mask``), painted with a round brush
(``brush_mask``), or read off the attention: ``attended_mask`` hides the grid
cells one word looked at most, ``random_cells_mask`` hides as many cells
picked at random (the control of the classic "does the attended region
matter" test). ``mask_image`` then fills the hidden pixels:

- ``grey``:  one flat colour, the dataset mean of the checkpoint's
  preprocessing when given (so the masked input is exactly zero after
  normalisation), else mid-grey;
- ``blur``:  a strong Gaussian blur (radius ``BLUR_RADIUS_SHARE`` of the
  picture's longer side), shapes and edges are smeared but the colours stay;
- ``noise``: uniform random colours from a seeded generator.

Only masked pixels ever change. Everything is numpy + PIL, no torch, no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from PIL import Image, ImageFilter

from attnscope.engine.errors import MaskError

MASK_FILLS = ("grey", "blur", "noise")
MID_GREY = (128, 128, 128)
BLUR_RADIUS_SHARE = 0.08  # Gaussian sigma as a share of the longer side: strong
DEFAULT_ATTENDED_FRACTION = 0.5
_BLUR_SMALL_RADIUS = 4.0  # the blur runs on a copy small enough for this radius


def _image_shape(shape: Sequence[int]) -> tuple[int, int]:
    """(H, W) from an (H, W) or (H, W, C) shape, both positive."""
    if len(shape) not in (2, 3) or min(int(v) for v in shape[:2]) < 1:
        raise MaskError(f"image shape must be (H, W) with positive sides, got {tuple(shape)}")
    return int(shape[0]), int(shape[1])


def check_mask(mask: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """``mask`` as a (H, W) bool array fitting ``image_shape``, neither empty nor all-covering.

    Raises MaskError (a ValueError) saying which rule a mask broke (wrong shape or dtype, no
    pixel covered, every pixel covered).
    """
    height, width = _image_shape(image_shape)
    values = np.asarray(mask)
    if values.dtype != np.bool_:
        raise MaskError(f"mask must be a bool array, got dtype {values.dtype}")
    if values.shape != (height, width):
        raise MaskError(
            f"mask of shape {values.shape} does not fit a picture of {height}x{width} pixels"
        )
    covered = int(values.sum())
    if covered == 0:
        raise MaskError("the mask covers no pixel: draw a rectangle or paint over the picture")
    if covered == values.size:
        raise MaskError("the mask covers the whole picture: leave some of it visible")
    return values


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    values = np.asarray(rgb)
    if values.dtype != np.uint8 or values.ndim != 3 or values.shape[2] != 3:
        raise MaskError(
            f"picture must be an (H, W, 3) uint8 RGB array, got {values.dtype} {values.shape}"
        )
    return values


def fill_colour(mean: Sequence[float] | None = None) -> tuple[int, int, int]:
    """The grey fill: the preprocessing mean (0–1 per channel) in 0–255, else mid-grey."""
    if mean is None:
        return MID_GREY
    if len(mean) != 3 or not all(0.0 <= float(v) <= 1.0 for v in mean):
        raise ValueError(f"mean must be three values in [0, 1], got {tuple(mean)}")
    r, g, b = (round(float(v) * 255) for v in mean)
    return (r, g, b)


def _blurred(rgb: np.ndarray) -> np.ndarray:
    """The whole picture under a strong Gaussian blur, (H, W, 3) uint8.

    Blurred at a reduced size (the blur keeps no fine detail anyway, and a
    radius of tens of pixels at full size costs tens of milliseconds), then
    stretched back with bilinear interpolation.
    """
    height, width = rgb.shape[:2]
    radius = max(2.0, BLUR_RADIUS_SHARE * max(height, width))
    factor = max(1.0, radius / _BLUR_SMALL_RADIUS)
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = Image.fromarray(rgb).resize(small_size, Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(radius / factor))
    return np.asarray(small.resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def _fill_values(
    rgb: np.ndarray, hidden: np.ndarray, fill: str, seed: int, grey: tuple[int, int, int]
) -> np.ndarray:
    """The new colours of the hidden pixels, (n, 3) uint8 in row-major order (or one colour)."""
    if fill == "grey":
        return np.asarray(grey, dtype=np.uint8)
    if fill == "blur":
        return _blurred(rgb)[hidden]
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(int(hidden.sum()), 3), dtype=np.uint8)


def mask_image(
    rgb: np.ndarray,
    mask: np.ndarray,
    fill: str,
    seed: int = 0,
    *,
    mean: Sequence[float] | None = None,
) -> np.ndarray:
    """Hide the masked pixels of ``rgb`` (H, W, 3) uint8 -> a new (H, W, 3) uint8 picture.

    ``fill`` is one of ``MASK_FILLS``; ``seed`` drives ``noise``; ``mean``
    (the checkpoint's preprocessing mean, 0–1 per channel) sets the ``grey``
    colour. Pixels outside ``mask`` are returned unchanged.
    """
    if fill not in MASK_FILLS:
        raise MaskError(f"unknown mask fill {fill!r}; valid: {', '.join(MASK_FILLS)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise MaskError(f"seed must be a non-negative int, got {seed!r}")
    picture = _check_rgb(rgb)
    hidden = check_mask(mask, picture.shape)
    out = picture.copy()
    out[hidden] = _fill_values(picture, hidden, fill, int(seed), fill_colour(mean))
    return out


def rect_mask(shape: Sequence[int], x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """(H, W) bool mask of the pixels whose centres lie in the rectangle between two corners.

    Corners are in picture pixels, in any order, and are clipped to the picture;
    a rectangle that covers no pixel centre raises ValueError.
    """
    height, width = _image_shape(shape)
    left, right = sorted((float(x0), float(x1)))
    top, bottom = sorted((float(y0), float(y1)))
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    inside_cols = (cols >= left) & (cols <= right)
    inside_rows = (rows >= top) & (rows <= bottom)
    mask = inside_rows[:, None] & inside_cols[None, :]
    if not mask.any():
        raise ValueError(
            f"the rectangle ({x0:g}, {y0:g})–({x1:g}, {y1:g}) covers no pixel of the "
            f"{height}x{width} picture"
        )
    return mask


def brush_mask(
    shape: Sequence[int], points: Sequence[tuple[float, float]], radius: float
) -> np.ndarray:
    """(H, W) bool mask of a round brush of ``radius`` pixels dragged through ``points`` (x, y).

    Consecutive points are joined (a fast drag samples the pointer sparsely),
    so each segment paints a capsule; a single point paints a disc.
    """
    height, width = _image_shape(shape)
    if not radius > 0:
        raise ValueError(f"brush radius must be positive, got {radius!r}")
    try:
        path = np.asarray(points, dtype=np.float64)  # (n, 2)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"brush points must be (x, y) number pairs: {exc}") from exc
    if path.ndim != 2 or path.shape[0] < 1 or path.shape[1] != 2 or not np.isfinite(path).all():
        raise ValueError(
            f"a brush stroke needs one or more finite (x, y) points, got shape {path.shape}"
        )
    segments = list(pairwise(path)) or [(path[0], path[0])]
    mask = np.zeros((height, width), dtype=bool)
    for start, end in segments:
        _paint_capsule(mask, start, end, float(radius))
    return mask


def _paint_capsule(mask: np.ndarray, start: np.ndarray, end: np.ndarray, radius: float) -> None:
    """Set the pixels whose centres lie within ``radius`` of segment start–end (x, y)."""
    lo = np.floor(np.minimum(start, end) - radius).astype(int)
    hi = np.ceil(np.maximum(start, end) + radius).astype(int)
    x_lo, y_lo = max(lo[0], 0), max(lo[1], 0)
    x_hi, y_hi = min(hi[0], mask.shape[1]), min(hi[1], mask.shape[0])
    if x_lo >= x_hi or y_lo >= y_hi:
        return
    ys, xs = np.mgrid[y_lo:y_hi, x_lo:x_hi] + 0.5  # pixel centres, (h', w') each
    direction = end - start
    length2 = float(direction @ direction)
    along = (xs - start[0]) * direction[0] + (ys - start[1]) * direction[1]
    t = np.clip(along / length2, 0.0, 1.0) if length2 > 0 else 0.0  # nearest point's share
    dx = xs - (start[0] + t * direction[0])
    dy = ys - (start[1] + t * direction[1])
    mask[y_lo:y_hi, x_lo:x_hi] |= dx * dx + dy * dy <= radius * radius


def cells_to_pixels(cells: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Stretch a (h, w) bool cell mask over a picture -> (H, W) bool.

    Preprocessing resizes the whole picture, so cell (r, c) covers the pixels
    whose centres fall in rows [r·H/h, (r+1)·H/h) and columns [c·W/w, (c+1)·W/w).
    """
    height, width = _image_shape(image_shape)
    grid = np.asarray(cells, dtype=bool)
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"cell mask must be a non-empty (h, w) array, got shape {grid.shape}")
    rows = np.minimum(
        ((np.arange(height) + 0.5) * grid.shape[0] / height).astype(int), grid.shape[0] - 1
    )
    cols = np.minimum(
        ((np.arange(width) + 0.5) * grid.shape[1] / width).astype(int), grid.shape[1] - 1
    )
    return grid[rows[:, None], cols[None, :]]


def attended_cells(
    attention: np.ndarray, fraction: float = DEFAULT_ATTENDED_FRACTION, top_k: int | None = None
) -> np.ndarray:
    """(h, w) bool: the cells one word attended to most.

    ``attention`` is (h, w) or (heads, h, w); heads are averaged. The rule:
    with ``top_k`` the k highest cells; otherwise the fewest highest cells
    whose weights add up to at least ``fraction`` of the total attention mass
    (at least one cell). Ties are broken by cell order (row-major), so the
    result is deterministic.
    """
    weights = np.asarray(attention, dtype=np.float64)
    if weights.ndim == 3:
        weights = weights.mean(axis=0)  # (h, w), heads averaged
    if weights.ndim != 2 or weights.size == 0 or not np.isfinite(weights).all():
        raise ValueError(
            f"attention must be a finite (h, w) or (heads, h, w) array, got {weights.shape}"
        )
    flat = weights.ravel()
    order = np.argsort(-flat, kind="stable")  # highest first, ties row-major
    if top_k is not None:
        if isinstance(top_k, bool) or not 1 <= int(top_k) <= flat.size:
            raise ValueError(f"top_k must be between 1 and {flat.size} cells, got {top_k!r}")
        count = int(top_k)
    else:
        if not 0.0 < float(fraction) <= 1.0:
            raise ValueError(f"fraction of the attention mass must be in (0, 1], got {fraction!r}")
        total = float(flat.sum())
        if total <= 0:
            raise ValueError("the attention has no mass to follow (all weights are zero)")
        cumulative = np.cumsum(flat[order])
        count = int(np.searchsorted(cumulative, float(fraction) * total * (1 - 1e-9))) + 1
        count = min(count, flat.size)
    cells = np.zeros(flat.size, dtype=bool)
    cells[order[:count]] = True
    return cells.reshape(weights.shape)


def attended_mask(
    attention: np.ndarray,
    image_shape: Sequence[int],
    fraction: float = DEFAULT_ATTENDED_FRACTION,
    top_k: int | None = None,
) -> np.ndarray:
    """(H, W) bool pixel mask of the cells ``attended_cells`` picks (see its rule)."""
    return cells_to_pixels(attended_cells(attention, fraction, top_k), image_shape)


def random_cells(grid: tuple[int, int], n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """(h, w) bool with ``n_cells`` distinct cells chosen uniformly by ``rng``."""
    h, w = (int(v) for v in grid)
    if h < 1 or w < 1:
        raise ValueError(f"grid must be two positive ints (h, w), got {grid}")
    if isinstance(n_cells, bool) or not 1 <= int(n_cells) <= h * w:
        raise ValueError(f"n_cells must be between 1 and {h * w}, got {n_cells!r}")
    cells = np.zeros(h * w, dtype=bool)
    cells[rng.choice(h * w, size=int(n_cells), replace=False)] = True
    return cells.reshape(h, w)


def random_cells_mask(
    grid: tuple[int, int], image_shape: Sequence[int], n_cells: int, rng: np.random.Generator
) -> np.ndarray:
    """(H, W) bool pixel mask of ``n_cells`` random grid cells: the control for ``attended_mask``."""
    return cells_to_pixels(random_cells(grid, n_cells, rng), image_shape)
