"""Picture inputs for the captioning fuzzer: recipes that become bytes, paths or arrays.

An ``ImageCase`` is a recipe (format, mode, size, seed, damage), so a
failing input prints in one line and rebuilds exactly. Recipes cover random
bytes, small pictures in every mode each format writes (CMYK, 16-bit,
float, palette, 1-bit, with alpha, animated), the same truncated or with
bytes changed, headers patched to declare up to 65,535 × 65,535 pixels,
odd paths (a directory, a missing or empty file, a FIFO, a link to a device,
a link loop, a broken link, a name that is not UTF-8) and raw RGB/grey arrays.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

# the modes each format can write (Pillow 10+)
FORMAT_MODES = {
    "PNG": ("RGB", "RGBA", "L", "LA", "P", "I;16", "1"),
    "JPEG": ("RGB", "L", "CMYK"),
    "GIF": ("P", "L"),
    "BMP": ("RGB", "L", "P", "1"),
    "WEBP": ("RGB", "RGBA"),
    "TIFF": ("RGB", "CMYK", "I;16", "I", "F", "L", "LA", "RGBA", "1"),
}
ANIMATED_FORMATS = ("PNG", "GIF", "WEBP", "TIFF")
DECLARABLE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


@dataclass(frozen=True)
class ImageCase:
    """One picture input. ``kind``: bytes | picture | declared | array | odd_path."""

    kind: str
    fmt: str = "PNG"
    mode: str = "RGB"
    size: tuple[int, int] = (8, 8)  # (w, h) drawn, or declared for "declared"
    frames: int = 1
    seed: int = 0
    damage: tuple = ()  # ("truncate", pos) | ("flip", pos, bit) | ("zero", pos, n)
    as_path: bool = False
    data: bytes = b""


def _pixels(mode: str, width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(-(2**31), 2**31 - 1, (height, width), dtype=np.int32))
    if mode == "F":
        values = rng.standard_normal((height, width)).astype(np.float32) * 1000
        values[0, 0] = np.nan if seed % 3 == 0 else values[0, 0]
        return Image.fromarray(values)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(rgb).convert(mode)


def encode_picture(fmt: str, mode: str, size: tuple[int, int], frames: int, seed: int) -> bytes:
    """A ``size`` (w, h) picture in ``mode`` written as ``fmt`` (animated if ``frames`` > 1)."""
    pictures = [_pixels(mode, *size, seed + i) for i in range(frames)]
    buffer = io.BytesIO()
    extra = {}
    if frames > 1 and fmt in ANIMATED_FORMATS:
        extra = {"save_all": True, "append_images": pictures[1:]}
    pictures[0].save(buffer, format=fmt, **extra)
    return buffer.getvalue()


def _png_size(blob: bytes, width: int, height: int) -> bytes:
    ihdr = bytearray(blob[12:29])  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    return blob[:12] + bytes(ihdr) + crc + blob[33:]


def _jpeg_size(blob: bytes, width: int, height: int) -> bytes:
    out = bytearray(blob)
    for at in range(2, len(out) - 9):
        if out[at] == 0xFF and out[at + 1] in (0xC0, 0xC1, 0xC2, 0xC3):
            out[at + 5 : at + 9] = struct.pack(">HH", height, width)
            break
    return bytes(out)


def _gif_size(blob: bytes, width: int, height: int) -> bytes:
    out = bytearray(blob)
    out[6:10] = struct.pack("<HH", width, height)
    at = out.find(b"\x2c", 13)
    if at > 0 and at + 9 <= len(out):
        out[at + 5 : at + 9] = struct.pack("<HH", width, height)
    return bytes(out)


def _bmp_size(blob: bytes, width: int, height: int) -> bytes:
    return blob[:18] + struct.pack("<ii", width, -height if height % 2 else height) + blob[26:]


_DECLARE = {"PNG": _png_size, "JPEG": _jpeg_size, "GIF": _gif_size, "BMP": _bmp_size}


def _damage(blob: bytes, damage: tuple) -> bytes:
    for op in damage:
        if not blob:
            break
        at = op[1] % len(blob)
        if op[0] == "truncate":
            blob = blob[:at]
        elif op[0] == "flip":
            blob = blob[:at] + bytes([blob[at] ^ (1 << op[2])]) + blob[at + 1 :]
        else:  # zero a run
            blob = blob[:at] + bytes(min(op[2], len(blob) - at)) + blob[at + op[2] :]
    return blob


def _as_array(case: ImageCase) -> np.ndarray:
    width, height = case.size
    rng = np.random.default_rng(case.seed)
    shape = (
        (height, width) if case.mode == "L" else (height, width, 4 if case.mode == "RGBA" else 3)
    )
    return rng.integers(0, 256, shape, dtype=np.uint8)


ODD_PATHS = (
    "directory",
    "empty",
    "gone",
    "fifo",  # a named pipe: must be named, never opened for a blocking read
    "device_link",  # a symbolic link to /dev/zero: endless bytes
    "link_loop",  # two symbolic links pointing at each other
    "broken_link",
    "not_utf8_name",  # a real picture whose file name is not valid UTF-8
)


def _odd_path(case: ImageCase, folder: Path) -> str:
    target = folder / f"odd-{case.mode}"
    if os.path.lexists(target) and not target.is_dir():
        target.unlink()
    if case.mode == "directory":
        target.mkdir(exist_ok=True)
    elif case.mode == "empty":
        target.write_bytes(b"")
    elif case.mode == "fifo":
        os.mkfifo(target)
    elif case.mode == "device_link":
        target.symlink_to("/dev/zero")
    elif case.mode == "link_loop":
        other = folder / "odd-link-loop-other"
        other.unlink(missing_ok=True)
        other.symlink_to(target)
        target.symlink_to(other)
    elif case.mode == "broken_link":
        target.symlink_to(folder / "odd-nowhere")
    elif case.mode == "not_utf8_name":
        named = os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9-\xff.png"))
        Path(named).write_bytes(encode_picture("PNG", "RGB", (6, 5), 1, case.seed))
        return named
    return str(target)


def materialize_image(case: ImageCase, folder: Path):
    """The caption() input ``case`` describes: bytes, a path string or an RGB array."""
    if case.kind == "array":
        return _as_array(case)
    if case.kind == "odd_path":
        return _odd_path(case, folder)
    if case.kind == "bytes":
        blob = case.data
    elif case.kind == "declared":
        small = encode_picture(case.fmt, FORMAT_MODES[case.fmt][0], (5, 4), 1, case.seed)
        blob = _DECLARE[case.fmt](small, *case.size)
    else:
        blob = encode_picture(case.fmt, case.mode, case.size, case.frames, case.seed)
    blob = _damage(blob, case.damage)
    if not case.as_path:
        return blob
    path = folder / f"fuzzed-picture.{case.fmt.lower()}"
    path.write_bytes(blob)
    return str(path)


_sizes = st.tuples(st.integers(1, 64), st.integers(1, 64)) | st.sampled_from(
    [(1, 1), (1, 700), (700, 1), (2, 3)]
)
_damages = st.lists(
    st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, 2**20)),
        st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(0, 7)),
        st.tuples(st.just("zero"), st.integers(0, 2**20), st.integers(1, 32)),
    ),
    max_size=3,
).map(tuple)


@st.composite
def _pictures(draw) -> ImageCase:
    fmt = draw(st.sampled_from(sorted(FORMAT_MODES)))
    animated = fmt in ANIMATED_FORMATS and draw(st.booleans())
    return ImageCase(
        kind="picture",
        fmt=fmt,
        mode=draw(st.sampled_from(FORMAT_MODES[fmt])),
        size=draw(_sizes),
        frames=draw(st.integers(2, 4)) if animated else 1,
        seed=draw(st.integers(0, 2**16)),
        damage=draw(st.one_of(st.just(()), _damages)),
        as_path=draw(st.integers(0, 9)) == 0,
    )


def image_inputs() -> st.SearchStrategy[ImageCase]:
    """Recipes of every kind; pictures (intact or damaged) are the most common."""
    side = st.integers(1, 65_535)
    return st.one_of(
        _pictures(),
        _pictures(),
        st.builds(ImageCase, kind=st.just("bytes"), data=st.binary(max_size=1024)),
        st.builds(
            ImageCase,
            kind=st.just("declared"),
            fmt=st.sampled_from(DECLARABLE_FORMATS),
            size=st.tuples(side, side) | st.sampled_from([(20_000, 20_000), (8_000, 8_000)]),
            seed=st.integers(0, 99),
        ),
        st.builds(
            ImageCase,
            kind=st.just("array"),
            mode=st.sampled_from(["RGB", "L", "RGBA"]),
            size=_sizes,
            seed=st.integers(0, 2**16),
        ),
        st.builds(
            ImageCase,
            kind=st.just("odd_path"),
            mode=st.sampled_from(ODD_PATHS),
        ),
    )
