"""Image decoding of every common kind of file, bombs and corrupt files, geometry helpers."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from attnscope.engine.errors import ImageInputError
from attnscope.engine.images import (
    ImageGeometry,
    ImagePreprocess,
    load_image,
    to_tensor,
    upsample_grid,
)
from attnscope.models.config import ImageEncoderConfig

W, H = 40, 24  # a landscape picture so rotations are visible in the size


def _gradient_rgb() -> Image.Image:
    y, x = np.mgrid[0:H, 0:W]
    array = np.stack([x * 6, y * 10, np.full_like(x, 128)], axis=-1).astype(np.uint8)
    return Image.fromarray(array, mode="RGB")


def _save(image: Image.Image, path, fmt: str, **kwargs) -> str:
    image.save(path, fmt, **kwargs)
    return str(path)


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp")]
)
def test_common_formats_decode_to_rgb_of_the_right_size(tmp_path, fmt, suffix):
    path = _save(_gradient_rgb(), tmp_path / f"pic.{suffix}", fmt)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (W, H)
    centre = np.asarray(image)[H // 2, W // 2].astype(int)
    assert np.abs(centre - [W // 2 * 6, H // 2 * 10, 128]).max() < 12  # lossy formats too


def test_bytes_source_decodes_like_a_file(tmp_path):
    buffer = io.BytesIO()
    _gradient_rgb().save(buffer, "PNG")
    image = load_image(buffer.getvalue())
    assert np.array_equal(np.asarray(image), np.asarray(_gradient_rgb()))


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("P", (W, H), color) for color in (1, 2, 3)]
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (768 - 12)
    for frame in frames:
        frame.putpalette(palette)
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (W, H)
    assert tuple(np.asarray(image)[0, 0]) == (255, 0, 0)


def test_rgba_is_composited_on_white(tmp_path):
    array = np.zeros((H, W, 4), dtype=np.uint8)
    array[..., 0] = 255  # red
    array[:, : W // 2, 3] = 0  # left half fully transparent
    array[:, W // 2 :, 3] = 255
    path = _save(Image.fromarray(array, mode="RGBA"), tmp_path / "alpha.png", "PNG")
    pixels = np.asarray(load_image(path))
    assert tuple(pixels[0, 0]) == (255, 255, 255)
    assert tuple(pixels[0, -1]) == (255, 0, 0)


def test_palette_with_transparency_goes_on_white(tmp_path):
    image = Image.new("P", (W, H), 1)
    image.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    path = _save(image, tmp_path / "pal.png", "PNG", transparency=1)
    assert tuple(np.asarray(load_image(path))[3, 3]) == (255, 255, 255)


def test_grayscale_and_cmyk_become_rgb(tmp_path):
    gray = _save(Image.new("L", (W, H), 77), tmp_path / "gray.png", "PNG")
    pixels = np.asarray(load_image(gray))
    assert pixels.shape == (H, W, 3) and (pixels == 77).all()
    cmyk = _save(Image.new("CMYK", (W, H), (0, 255, 255, 0)), tmp_path / "cmyk.jpg", "JPEG")
    image = load_image(cmyk)
    assert image.mode == "RGB" and image.size == (W, H)
    red, green, blue = np.asarray(image)[H // 2, W // 2].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, W, dtype=np.float64).round().astype(np.uint16)
    array = np.tile(ramp, (H, 1))
    path = _save(Image.fromarray(array), tmp_path / "deep.png", "PNG")
    assert Image.open(path).mode.startswith("I")
    pixels = np.asarray(load_image(path))[0, :, 0].astype(int)
    assert pixels[0] == 0 and pixels[-1] == 255
    assert abs(pixels[W // 2] - 128) <= 4  # mid-grey, not clipped to white
    assert (np.diff(pixels) >= 0).all()


def test_exif_orientation_is_honoured(tmp_path):
    image = _gradient_rgb()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = _save(image, tmp_path / "phone.jpg", "JPEG", exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.size == (H, W)  # width and height swapped
    assert load_image(_save(image, tmp_path / "plain.jpg", "JPEG")).size == (W, H)


def test_non_image_and_truncated_files_name_the_file(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    with pytest.raises(ImageInputError, match=r"notes\.jpg is not a supported image"):
        load_image(text)
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        buffer, "JPEG"
    )
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageInputError, match=r"cut\.jpg is truncated or corrupt"):
        load_image(cut)
    with pytest.raises(ImageInputError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageInputError, match="is a directory"):
        load_image(tmp_path)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG signature + valid IHDR declaring width×height, then a tiny IDAT and IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("side", "message"),
    [
        (20_000, r"bomb\.png is too large to decode safely: .*400000000 pixels"),  # Pillow's check
        (9_000, r"^\S*bomb\.png is 9000x9000 = 81 megapixels; the limit is 64 megapixels$"),
    ],
)
def test_decompression_bomb_is_refused_before_decoding(tmp_path, side, message):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))  # 68 bytes: no pixels exist to decode
    with pytest.raises(ImageInputError, match=message):
        load_image(path)


def test_camera_mpo_jpeg_gives_its_first_picture():
    buffer = io.BytesIO()
    first, second = Image.new("RGB", (W, H), "red"), Image.new("RGB", (W, H), "blue")
    first.save(buffer, "MPO", save_all=True, append_images=[second])
    image = load_image(buffer.getvalue())
    assert image.size == (W, H)
    red, green, blue = image.getpixel((0, 0))
    assert red > 240 and green < 20 and blue < 20


def test_pixel_limit_is_configurable(tmp_path):
    path = _save(_gradient_rgb(), tmp_path / "pic.png", "PNG")
    with pytest.raises(ImageInputError, match="megapixels"):
        load_image(path, max_pixels=W * H - 1)
    assert load_image(path, max_pixels=W * H).size == (W, H)


def test_to_tensor_resizes_and_normalises():
    preprocess = ImagePreprocess(size=(16, 20), mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 0.5))
    white = Image.new("RGB", (W, H), (255, 255, 255))
    tensor = to_tensor(white, preprocess)
    assert tensor.shape == (3, 16, 20) and tensor.dtype == torch.float32
    assert torch.allclose(tensor[0], torch.ones(16, 20)) and torch.allclose(
        tensor[1], 2 * torch.ones(16, 20)
    )
    gray = to_tensor(Image.new("L", (5, 5), 0), preprocess)
    assert gray.shape == (3, 16, 20) and torch.allclose(
        gray, -torch.tensor([1.0, 2.0, 1.0])[:, None, None].expand(3, 16, 20)
    )


def test_preprocess_from_model_config_and_dict_round_trip():
    config = ImageEncoderConfig(image_size=(96, 128), mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6))
    preprocess = ImagePreprocess.from_model_config(config)
    assert preprocess.size == (96, 128) and preprocess.std == (0.4, 0.5, 0.6)
    assert ImagePreprocess.from_dict(preprocess.to_dict()) == preprocess
    with pytest.raises(ValueError, match="unknown image preprocessing keys"):
        ImagePreprocess.from_dict({"size": [1, 1], "crop": 3})
    with pytest.raises(ValueError, match="std must be positive"):
        ImagePreprocess(std=(0.0, 1.0, 1.0))


def test_upsample_nearest_repeats_each_cell():
    grid = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = upsample_grid(grid, (4, 6), mode="nearest")
    assert out.shape == (4, 6) and out.dtype == np.float32
    assert np.array_equal(out, np.kron(grid, np.ones((2, 2))))


def test_upsample_bilinear_stays_in_range_and_keeps_constants():
    rng = np.random.default_rng(1)
    grid = rng.random((7, 7))
    out = upsample_grid(grid, (50, 90))
    assert out.shape == (50, 90)
    assert out.min() >= grid.min() - 1e-6 and out.max() <= grid.max() + 1e-6
    assert np.allclose(upsample_grid(np.full((3, 4), 0.25), (11, 13)), 0.25)
    # the pixel at a cell's centre carries that cell's value exactly (7 -> 21: centres at 1, 4, ...)
    assert np.allclose(upsample_grid(grid, (21, 21))[1::3, 1::3], grid, atol=1e-6)


def test_upsample_agrees_with_torch_bilinear():
    grid = np.random.default_rng(2).random((5, 6)).astype(np.float32)
    ours = upsample_grid(grid, (17, 23))
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(grid)[None, None], size=(17, 23), mode="bilinear", align_corners=False
    )[0, 0].numpy()
    assert np.allclose(ours, ref, atol=1e-5)


def test_upsample_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown upsample mode"):
        upsample_grid(np.ones((2, 2)), (4, 4), mode="cubic")
    with pytest.raises(ValueError, match="2-D"):
        upsample_grid(np.ones(4), (4, 4))
    with pytest.raises(ValueError, match="positive"):
        upsample_grid(np.ones((2, 2)), (0, 4))


def test_geometry_maps_cells_and_pixels_both_ways():
    geometry = ImageGeometry(image_size=(300, 400), grid=(3, 4))
    assert geometry.cell_box(1, 2) == (100.0, 200.0, 200.0, 300.0)
    assert geometry.cell_at(150, 250) == (1, 2)
    assert geometry.cell_at(299.9, 399.9) == (2, 3)
    assert geometry.cell_at(300, 10) is None
    with pytest.raises(ValueError, match="outside"):
        geometry.cell_box(3, 0)
    weights = np.zeros(12)
    weights[6] = 1.0  # cell (1, 2)
    overlay = geometry.overlay(weights, mode="nearest")
    assert overlay.shape == (300, 400)
    assert overlay[150, 250] == 1.0 and overlay[:100].sum() == 0
