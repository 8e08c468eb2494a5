"""Image input for captioning: safe decoding, model preprocessing, attention geometry.

``load_image`` turns a file path or raw bytes into an 8-bit RGB ``PIL.Image``
whatever the source looked like (JPEG incl. CMYK and camera MPO (opened by the JPEG plugin), PNG incl.
16-bit and palette, WebP, BMP, GIF first frame, TIFF), with the EXIF
orientation applied and transparency composited on white. The size declared
in the header is checked against a pixel limit *before* any pixel is decoded,
so a decompression bomb costs nothing. Every failure is an ``ImageInputError``
naming the file.

``to_tensor`` resizes the whole picture (no crop) to the model's input size
and normalises it, so the encoder's h×w attention grid covers the entire
original picture; ``upsample_grid`` / ``ImageGeometry`` map the grid back onto
it with numpy only.
"""

from __future__ import annotations

import io
import logging
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from attnscope.engine.errors import DataError, ImageInputError
from attnscope.engine.input_files import display_path, open_regular_file
from attnscope.models.config import ImageEncoderConfig

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 64_000_000
STRIP_PIXELS = 1 << 20  # pixels converted at a time (to_rgb): bounds temporary copies
MAX_MODEL_INPUT_SIDE = 2048  # model input size a checkpoint may ask for
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
_WHITE = (255, 255, 255)

ImageSource = str | os.PathLike | bytes | bytearray


@dataclass(frozen=True)
class ImagePreprocess:
    """How a picture becomes the model's input tensor: resize to ``size``, normalise."""

    size: tuple[int, int] = (224, 224)  # (h, w)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"image size must be two positive ints (h, w), got {self.size}")
        if max(self.size) > MAX_MODEL_INPUT_SIDE:
            # a checkpoint is untrusted: it must not make every picture a giant tensor
            raise ValueError(
                f"image size {self.size} is larger than {MAX_MODEL_INPUT_SIDE} pixels per side"
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError(f"mean and std need 3 values, got {self.mean}, {self.std}")
        if not all(math.isfinite(v) and abs(v) <= 1e3 for v in (*self.mean, *self.std)):
            raise ValueError(
                f"mean and std must be finite (within ±1000), got {self.mean}, {self.std}"
            )
        if min(self.std) < 1e-6:  # dividing by less would overflow float32 pixels
            raise ValueError(f"std must be positive (at least 1e-6), got {self.std}")

    @classmethod
    def from_model_config(cls, config: ImageEncoderConfig) -> ImagePreprocess:
        return cls(size=tuple(config.image_size), mean=tuple(config.mean), std=tuple(config.std))

    def to_dict(self) -> dict[str, list]:
        return {"size": list(self.size), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImagePreprocess:
        """Rebuild from ``to_dict()``; bad keys or values raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"image preprocessing must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"size", "mean", "std"})
        if unknown:
            raise ValueError(f"unknown image preprocessing keys: {', '.join(unknown)}")
        try:
            values = {
                "size": tuple(int(v) for v in data.get("size", cls.size)),
                "mean": tuple(float(v) for v in data.get("mean", cls.mean)),
                "std": tuple(float(v) for v in data.get("std", cls.std)),
            }
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad image preprocessing values {data}: {exc}") from exc
        return cls(**values)


# -- decoding --------------------------------------------------------------------------------
def _describe(source: ImageSource) -> str:
    if isinstance(source, bytes | bytearray):
        return f"image data ({len(source):,} bytes)"
    return display_path(source)  # a name that is not UTF-8 shows its bytes as \xNN


def _open_stream(source: ImageSource) -> io.BufferedIOBase:
    """The picture's bytes: only a regular file is opened (never blocking on a FIFO); a
    folder, FIFO, device, socket, broken link or link loop is named as what it is."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(bytes(source))
    try:
        return open_regular_file(source, "image")
    except DataError as exc:
        raise ImageInputError(str(exc)) from None


def _check_declared_size(image: Image.Image, name: str, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageInputError(f"{name} declares an empty size {width}x{height}")
    if width * height > max_pixels:
        size, limit = _megapixels(width * height, max_pixels)
        raise ImageInputError(
            f"{name} is {width}x{height} = {size} megapixels; the limit is {limit} megapixels"
        )


def _megapixels(pixels: int, limit: int) -> tuple[str, str]:
    """Both counts in megapixels, with as few decimals as tell them apart (81 vs 64, but
    64.02 vs 64.00 rather than 64 vs 64)."""
    for decimals in range(4):
        size, bound = f"{pixels / 1e6:.{decimals}f}", f"{limit / 1e6:.{decimals}f}"
        if size != bound:
            break
    return size, bound


def load_image(source: ImageSource, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """Decode a file path or bytes into an 8-bit RGB image, oriented as it should be seen.

    Raises ImageInputError (naming the file) for a missing file, a non-image,
    an unsupported format, a truncated or corrupt file, or a picture whose
    declared size exceeds ``max_pixels`` (checked before decoding pixels).
    """
    name = _describe(source)
    with _open_stream(source) as stream:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(stream, formats=SUPPORTED_FORMATS)  # reads the header only
            with image:
                _check_declared_size(image, name, max_pixels)
                image.seek(0)  # first frame of an animation
                image.load()
                ImageOps.exif_transpose(image, in_place=True)  # no copy when upright
                return to_rgb(image)
        except ImageInputError:
            raise
        except Image.DecompressionBombError as exc:
            raise ImageInputError(f"{name} is too large to decode safely: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise ImageInputError(
                f"{name} is not a supported image (supported: {', '.join(SUPPORTED_FORMATS)})"
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
            raise ImageInputError(f"{name} is truncated or corrupt: {exc}") from exc


def _strips(image: Image.Image):
    """(top row, strip) pieces of ``image`` of about ``STRIP_PIXELS`` pixels each: converting
    strip by strip bounds every temporary copy, whatever the picture's size."""
    width, height = image.size
    rows = max(1, STRIP_PIXELS // max(width, 1))
    for top in range(0, height, rows):
        yield top, image.crop((0, top, width, min(height, top + rows)))


def _on_white(image: Image.Image) -> Image.Image:
    out = Image.new("RGB", image.size, _WHITE)
    for top, strip in _strips(image):
        rgba = strip.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        out.paste(Image.alpha_composite(background, rgba).convert("RGB"), (0, top))
    return out


def _high_depth_top(image: Image.Image) -> float:
    """The value that maps to white: 1.0 (float) or 65535 (integer) unless the picture
    holds larger values, then its largest (NaN ignored)."""
    largest = None
    for _, strip in _strips(image):
        values = np.asarray(strip)
        if image.mode == "F":
            values = values[~np.isnan(values)]
        if values.size:
            top = float(values.max())
            largest = top if largest is None else max(largest, top)
    limit = 1.0 if image.mode == "F" else 65535.0
    return limit if largest is None or largest <= limit else largest


def _high_depth_to_rgb(image: Image.Image) -> Image.Image:
    """16-bit / 32-bit integer or float grayscale -> 8-bit RGB (Pillow's convert clips),
    one strip at a time: no full-size float64 copy of a 40-megapixel picture."""
    top = _high_depth_top(image)
    out = Image.new("RGB", image.size)
    for row, strip in _strips(image):
        values = np.asarray(strip).astype(np.float64)  # (rows, W), one strip only
        scaled = np.clip(np.nan_to_num(values) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        out.paste(Image.fromarray(scaled, mode="L").convert("RGB"), (0, row))
    return out


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB; transparency goes on white. An RGB image is returned
    as it is (no copy); other modes are converted strip by strip into a new image."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P" and "transparency" in image.info:
        return _on_white(image)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _on_white(image)
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_rgb(image)
    return image.convert("RGB")


# -- model input ----------------------------------------------------------------------------
def to_tensor(image: Image.Image, preprocess: ImagePreprocess) -> torch.Tensor:
    """RGB image -> normalised float32 tensor (3, H, W) at ``preprocess.size``.

    The whole picture is resized (aspect ratio not kept, nothing cropped) so
    the attention grid maps onto the full original picture.
    """
    height, width = preprocess.size
    resized = to_rgb(image) if image.mode != "RGB" else image
    resized = resized.resize((width, height), Image.Resampling.BICUBIC)
    array = np.asarray(resized, dtype=np.float32) / 255.0  # (H, W, 3)
    mean = np.asarray(preprocess.mean, dtype=np.float32)
    std = np.asarray(preprocess.std, dtype=np.float32)
    normalised = (array - mean) / std
    import torch  # on demand: the GUI imports this module before torch is needed

    return torch.from_numpy(np.ascontiguousarray(normalised.transpose(2, 0, 1)))  # (3, H, W)


# -- attention geometry (numpy only) ---------------------------------------------------------
def _bilinear_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) interpolation matrix, pixel-centre aligned (align_corners=False)."""
    centres = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    centres = np.clip(centres, 0.0, n_in - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    frac = centres - low
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    rows = np.arange(n_out)
    np.add.at(weights, (rows, low), 1.0 - frac)
    np.add.at(weights, (rows, high), frac)
    return weights


def _nearest_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) one-hot matrix: each output pixel takes the cell it lies in."""
    index = np.minimum(((np.arange(n_out) + 0.5) * (n_in / n_out)).astype(np.int64), n_in - 1)
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    weights[np.arange(n_out), index] = 1.0
    return weights


UPSAMPLE_MODES: dict[str, Callable[[int, int], np.ndarray]] = {
    "bilinear": _bilinear_weights,
    "nearest": _nearest_weights,
}


def upsample_grid(
    grid: np.ndarray, out_size: tuple[int, int], mode: str = "bilinear"
) -> np.ndarray:
    """Stretch an attention grid (h, w) over a picture of ``out_size`` (H, W) -> float32 (H, W).

    Bilinear output stays within the grid's value range and a constant grid
    stays constant; nearest repeats each cell over the pixels it covers.
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"unknown upsample mode {mode!r}; valid: {', '.join(UPSAMPLE_MODES)}")
    values = np.asarray(grid, dtype=np.float64)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(f"grid must be a non-empty 2-D array (h, w), got shape {values.shape}")
    out_h, out_w = (int(v) for v in out_size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive, got {out_size}")
    rows = UPSAMPLE_MODES[mode](values.shape[0], out_h)  # (H, h)
    cols = UPSAMPLE_MODES[mode](values.shape[1], out_w)  # (W, w)
    return (rows @ values @ cols.T).astype(np.float32)  # (H, W)


@dataclass(frozen=True)
class ImageGeometry:
    """Where each attention-grid cell lies on the original picture.

    image_size: (H, W) of the picture as shown; grid: (h, w) of the encoder's map.
    Because preprocessing resizes the whole picture, cell (r, c) covers the
    same fraction of the original as it does of the model input.
    """

    image_size: tuple[int, int]
    grid: tuple[int, int]

    def __post_init__(self) -> None:
        if min(self.image_size) < 1 or min(self.grid) < 1:
            raise ValueError(f"sizes must be positive, got {self.image_size}, {self.grid}")

    def cell_box(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(top, left, bottom, right) in original-picture pixels of cell (row, col)."""
        (height, width), (grid_h, grid_w) = self.image_size, self.grid
        if not (0 <= row < grid_h and 0 <= col < grid_w):
            raise ValueError(f"cell ({row}, {col}) is outside the {grid_h}x{grid_w} grid")
        cell_h, cell_w = height / grid_h, width / grid_w
        return (row * cell_h, col * cell_w, (row + 1) * cell_h, (col + 1) * cell_w)

    def cell_at(self, y: float, x: float) -> tuple[int, int] | None:
        """The (row, col) cell under picture pixel (y, x), or None outside the picture."""
        (height, width), (grid_h, grid_w) = self.image_size, self.grid
        if not (0 <= y < height and 0 <= x < width):
            return None
        return (int(y * grid_h / height), int(x * grid_w / width))

    def overlay(self, weights: np.ndarray, mode: str = "bilinear") -> np.ndarray:
        """Attention over the grid cells, (h·w,) or (h, w) -> float32 (H, W) over the picture."""
        cells = np.asarray(weights).reshape(self.grid)
        return upsample_grid(cells, self.image_size, mode)
