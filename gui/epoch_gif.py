"""The heat map over the epochs as an animated GIF (Pillow), one frame per epoch.

Plain numpy and Pillow, no Qt: the frames are drawn from the traced attention itself,
so the file holds exactly the weights the epoch slider shows (heads averaged, the
view's colour map), with the source tokens across the top, the output down the left
and "epoch N" in the corner. Every frame has one size and one layout, so a viewer
sees only the weights change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from attnscope.engine.errors import DataError
from attnscope.engine.input_files import check_output_path, display_path
from attnscope.gui.style import DEFAULT_COLORMAP, colorize

CELL = 22  # pixels per attention cell
FRAME_MS = 700  # how long each epoch stays on screen
MAX_CELLS = 200  # per axis: a longer output or source is refused, not drawn tiny
LABEL_CHARS = 12


def _label(piece: str) -> str:
    text = piece.replace("▁", "·") or "∅"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def epoch_frames(
    attention: np.ndarray,
    epochs: list[int],
    source: list[str],
    target: list[str],
    *,
    colormap_name: str = DEFAULT_COLORMAP,
) -> list[Image.Image]:
    """One RGB frame per epoch.

    attention: (E, T, heads, S) float32, the epochs' weights of one output, oldest first
    epochs:    the E epoch numbers; source: S labels; target: T labels
    """
    stack = np.asarray(attention, dtype=np.float32)
    if stack.ndim != 4 or stack.shape[0] != len(epochs):
        raise ValueError(f"attention must be (E, T, heads, S) for {len(epochs)} epochs")
    _, rows, _, columns = stack.shape
    if rows > MAX_CELLS or columns > MAX_CELLS:
        raise ValueError(f"a {rows}x{columns} heat map is too large for a GIF ({MAX_CELLS} max)")
    labels_s, labels_t = [_label(p) for p in source], [_label(p) for p in target]
    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = 8 + max((_text_width(probe, t, font) for t in labels_t), default=0)
    top = 24 + max((_text_width(probe, s, font) for s in labels_s), default=0)
    width, height = left + columns * CELL + 8, top + rows * CELL + 8
    frames = []
    for epoch, weights in zip(epochs, stack, strict=True):
        colours = colorize(weights.mean(axis=1), colormap_name)  # (T, S, 3)
        cells = np.repeat(np.repeat(colours, CELL, axis=0), CELL, axis=1)
        frame = Image.new("RGB", (width, height), "white")
        frame.paste(Image.fromarray(cells), (left, top))
        draw = ImageDraw.Draw(frame)
        draw.text((4, 4), f"epoch {epoch}", fill="black", font=font)
        for row, text in enumerate(labels_t):
            y = top + row * CELL + CELL // 2
            draw.text((left - 4, y), text, fill="black", font=font, anchor="rm")
        for column, text in enumerate(labels_s):
            frame.paste(_upright(text, font), (left + column * CELL + CELL // 2 - 6, 22))
        frames.append(frame)
    return frames


def _upright(text: str, font) -> Image.Image:
    """``text`` rotated to read bottom-up (a column label), black on white."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    box = probe.textbbox((0, 0), text, font=font)
    label = Image.new("RGB", (box[2] + 2, 12), "white")
    ImageDraw.Draw(label).text((0, 0), text, fill="black", font=font)
    return label.rotate(90, expand=True)


def write_epoch_gif(
    path: str | os.PathLike,
    attention: np.ndarray,
    epochs: list[int],
    source: list[str],
    target: list[str],
    *,
    colormap_name: str = DEFAULT_COLORMAP,
    frame_ms: int = FRAME_MS,
) -> Path:
    """Write the animated GIF (looping) to ``path`` (atomically); returns the path."""
    target_path = Path(path)
    check_output_path(target_path, "the GIF")
    frames = epoch_frames(attention, epochs, source, target, colormap_name=colormap_name)
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=frame_ms,
        loop=0,
    )
    partial = Path(f"{os.fspath(target_path)}.partial")  # a failed write leaves no half GIF
    try:
        partial.write_bytes(buffer.getvalue())
        os.replace(partial, target_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot write {display_path(target_path)}: {exc.strerror}") from exc
    return target_path
