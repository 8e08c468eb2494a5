"""Pixel masks over a picture, their fills, and the attention-driven masks."""

import numpy as np
import pytest

from attnscope.engine.errors import AttnScopeError, MaskError
from attnscope.engine.image_masks import (
    MASK_FILLS,
    MID_GREY,
    attended_cells,
    attended_mask,
    brush_mask,
    cells_to_pixels,
    check_mask,
    fill_colour,
    mask_image,
    random_cells,
    random_cells_mask,
    rect_mask,
)


@pytest.fixture
def picture():
    rng = np.random.default_rng(5)
    return rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)


@pytest.mark.parametrize("fill", MASK_FILLS)
def test_fills_change_only_masked_pixels(picture, fill):
    mask = rect_mask(picture.shape, 10, 5, 30, 25)
    out = mask_image(picture, mask, fill, seed=3)
    assert out.shape == picture.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], picture[~mask])
    assert not np.array_equal(out[mask], picture[mask])
    assert np.array_equal(picture, np.random.default_rng(5).integers(0, 256, (40, 60, 3), np.uint8))


def test_grey_uses_the_preprocessing_mean_or_mid_grey(picture):
    mask = rect_mask(picture.shape, 0, 0, 10, 10)
    assert (mask_image(picture, mask, "grey")[mask] == MID_GREY).all()
    mean = (0.485, 0.456, 0.406)
    assert (mask_image(picture, mask, "grey", mean=mean)[mask] == (124, 116, 104)).all()
    assert fill_colour(mean) == (124, 116, 104)
    with pytest.raises(ValueError, match="three values in"):
        fill_colour((2.0, 0.0, 0.0))


@pytest.mark.parametrize("fill", ["blur", "noise"])
def test_blur_and_noise_are_deterministic_with_a_seed(picture, fill):
    mask = brush_mask(picture.shape, [(5, 5), (40, 30)], radius=4)
    first = mask_image(picture, mask, fill, seed=7)
    assert np.array_equal(first, mask_image(picture, mask, fill, seed=7))


def test_noise_depends_on_the_seed(picture):
    mask = rect_mask(picture.shape, 0, 0, 30, 30)
    assert not np.array_equal(
        mask_image(picture, mask, "noise", seed=1), mask_image(picture, mask, "noise", seed=2)
    )


def test_blur_smooths_a_sharp_edge():
    rgb = np.zeros((64, 64, 3), dtype=np.uint8)
    rgb[:, 32:] = 255  # one hard vertical edge
    mask = rect_mask(rgb.shape, 16, 16, 48, 48)
    out = mask_image(rgb, mask, "blur")
    assert 40 < int(out[32, 31, 0]) < 215 and 40 < int(out[32, 32, 0]) < 215


def test_rect_mask_corners_in_any_order_and_clipped():
    mask = rect_mask((10, 20), 15, 8, 5, 2)
    assert mask.sum() == 10 * 6
    assert mask[2, 5] and mask[7, 14] and not mask[8, 5]
    assert rect_mask((10, 20), -5, -5, 100, 100).all()
    with pytest.raises(ValueError, match="covers no pixel"):
        rect_mask((10, 20), 30, 30, 40, 40)


def test_brush_mask_joins_points_into_a_stroke():
    mask = brush_mask((20, 40), [(5, 10), (35, 10)], radius=2)
    assert mask[10, 5:35].all()  # the whole segment, not just two discs
    assert not mask[3, 20] and not mask[17, 20]
    disc = brush_mask((20, 40), [(10, 10)], radius=3)
    assert disc[10, 10] and disc.sum() == pytest.approx(np.pi * 9, rel=0.25)


@pytest.mark.parametrize(
    ("points", "radius", "message"),
    [
        ([], 3, "one or more finite"),
        ([(1, 2, 3)], 3, "one or more finite"),
        ([(1, 1)], 0, "radius"),
    ],
)
def test_bad_brush_strokes(points, radius, message):
    with pytest.raises(ValueError, match=message):
        brush_mask((10, 10), points, radius)


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.ones((40, 59), bool), "does not fit a picture of 40x60"),
        (np.zeros((40, 60), bool), "covers no pixel"),
        (np.ones((40, 60), bool), "covers the whole picture"),
        (np.ones((40, 60), np.uint8), "must be a bool array"),
    ],
)
def test_bad_masks_get_a_clear_message(picture, mask, message):
    with pytest.raises(ValueError, match=message):
        mask_image(picture, mask, "grey")


def test_bad_fill_seed_and_picture(picture):
    mask = rect_mask(picture.shape, 0, 0, 5, 5)
    with pytest.raises(ValueError, match="valid: grey, blur, noise"):
        mask_image(picture, mask, "paint")
    with pytest.raises(ValueError, match="seed"):
        mask_image(picture, mask, "noise", seed=-1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        mask_image(picture.astype(np.float32), mask, "grey")


def test_attended_cells_pick_the_highest_cells_by_mass():
    attention = np.array([[0.05, 0.4], [0.3, 0.25]])
    assert attended_cells(attention, fraction=0.4).tolist() == [[False, True], [False, False]]
    assert attended_cells(attention, fraction=0.5).tolist() == [[False, True], [True, False]]
    assert attended_cells(attention, fraction=0.7).tolist() == [[False, True], [True, False]]
    assert attended_cells(attention, fraction=1.0).sum() == 4
    assert attended_cells(attention, top_k=3).tolist() == [[False, True], [True, True]]


def test_attended_cells_average_the_heads():
    heads = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.6]]])
    assert attended_cells(heads, top_k=1).tolist() == [[True, False], [False, False]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fraction": 0.0}, "fraction"), ({"fraction": 1.5}, "fraction"), ({"top_k": 5}, "top_k")],
)
def test_attended_cells_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        attended_cells(np.full((2, 2), 0.25), **kwargs)
    with pytest.raises(ValueError, match="no mass"):
        attended_cells(np.zeros((2, 2)))


def test_attended_mask_covers_the_chosen_cells_pixels():
    attention = np.zeros((4, 4))
    attention[1, 2] = 1.0
    mask = attended_mask(attention, (40, 80))
    assert mask.sum() == 10 * 20
    assert mask[10:20, 40:60].all()


def test_cells_to_pixels_with_uneven_sizes():
    cells = np.zeros((3, 3), bool)
    cells[2, 2] = True
    mask = cells_to_pixels(cells, (10, 11))
    assert mask[-1, -1] and not mask[0, 0]
    assert mask.sum() == 3 * 4  # rows 7..9, cols 7..10 have their centres in the last cell


def test_random_cells_have_the_same_count_and_are_seeded():
    first = random_cells((7, 7), 5, np.random.default_rng(1))
    assert first.sum() == 5
    assert np.array_equal(first, random_cells((7, 7), 5, np.random.default_rng(1)))
    mask = random_cells_mask((4, 4), (40, 40), 3, np.random.default_rng(2))
    assert mask.sum() == 3 * 100
    with pytest.raises(ValueError, match="n_cells must be between 1 and 16"):
        random_cells((4, 4), 17, np.random.default_rng(0))


def test_check_mask_accepts_an_rgb_shape():
    mask = rect_mask((5, 5), 0, 0, 2, 2)
    assert np.array_equal(check_mask(mask, (5, 5, 3)), mask)


def test_a_refused_mask_is_an_attnscope_error_so_the_app_says_it_without_a_traceback():
    picture = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(MaskError, match="does not fit") as refused:
        mask_image(picture, np.ones((3, 3), bool), "grey")
    assert isinstance(refused.value, AttnScopeError) and isinstance(refused.value, ValueError)
    with pytest.raises(MaskError, match="valid: grey"):
        mask_image(picture, np.eye(4, dtype=bool), "paint")
