"""The attention-sanity shapes dataset: determinism, captions, geometry, pointing."""

import csv
import json
from itertools import combinations

import numpy as np
import pytest
from PIL import Image

from attnscope.engine.shapes.dataset_files import decode_mask, encode_mask, write_dataset
from attnscope.engine.shapes.pointing import pointing_hit
from attnscope.engine.shapes.scenes import (
    COLOURS,
    ShapesConfig,
    generate_dataset,
    generate_scene,
    relation,
)

CONFIG = ShapesConfig(image_size=64, shape_size=(12, 20), gap=3)


@pytest.fixture(scope="module")
def scenes():
    return generate_dataset(40, seed=7, config=CONFIG)


def test_same_seed_same_scenes_and_prefix_stable():
    first = generate_dataset(5, seed=3, config=CONFIG)
    again = generate_dataset(8, seed=3, config=CONFIG)[:5]
    assert first == again  # captions, kinds, colours, boxes, noun indices
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
        for sa, sb in zip(a.shapes, b.shapes, strict=True):
            np.testing.assert_array_equal(sa.mask, sb.mask)
    other = generate_dataset(5, seed=4, config=CONFIG)
    assert [s.caption for s in other] != [s.caption for s in first]


def test_generate_scene_uses_only_the_given_generator():
    a = generate_scene(np.random.default_rng(11), CONFIG)
    b = generate_scene(np.random.default_rng(11), CONFIG)
    assert a == b
    np.testing.assert_array_equal(a.image, b.image)


def test_all_shape_counts_occur(scenes):
    assert {len(scene.shapes) for scene in scenes} == {1, 2, 3}


def test_caption_names_every_shape_at_its_noun_index(scenes):
    for scene in scenes:
        words = scene.caption.split()
        assert words[0] in ("a", "an")
        for shape in scene.shapes:
            assert words[shape.noun_index] == shape.kind
            assert words[shape.noun_index - 1] == shape.colour
            assert words[shape.noun_index - 2] == ("an" if shape.colour == "orange" else "a")
        assert len({(s.colour, s.kind) for s in scene.shapes}) == len(scene.shapes)


def test_single_shape_caption_is_just_the_shape():
    single = ShapesConfig(image_size=64, shape_size=(12, 20), max_shapes=1)
    scene = generate_dataset(1, seed=0, config=single)[0]
    shape = scene.shapes[0]
    article = "an" if shape.colour[0] in "aeiou" else "a"
    assert scene.caption == f"{article} {shape.colour} {shape.kind}"


def test_caption_relations_match_geometry(scenes):
    two = [s for s in scenes if len(s.shapes) >= 2]
    assert two
    for scene in two:
        first, second = scene.shapes[0], scene.shapes[1]
        rel = relation(first.box, second.box)
        expected_words = rel.split()
        start = first.noun_index + 1
        assert scene.caption.split()[start : start + len(expected_words)] == expected_words
    # the geometry helper itself: image y grows downwards
    assert relation((0, 0, 10, 10), (0, 40, 10, 50)) == "above"
    assert relation((40, 0, 50, 10), (0, 5, 10, 15)) == "right of"


def test_boxes_inside_image_and_apart(scenes):
    size = CONFIG.image_size
    for scene in scenes:
        assert scene.image.shape == (size, size, 3) and scene.image.dtype == np.uint8
        for shape in scene.shapes:
            x0, y0, x1, y1 = shape.box
            assert 0 <= x0 < x1 <= size and 0 <= y0 < y1 <= size
            assert CONFIG.shape_size[0] <= x1 - x0 <= CONFIG.shape_size[1]
            ys, xs = np.nonzero(shape.mask)
            assert len(ys) > 0
            assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1
        for a, b in combinations(scene.shapes, 2):
            ax0, ay0, ax1, ay1 = a.box
            bx0, by0, bx1, by1 = b.box
            gap = CONFIG.gap
            assert ax1 + gap <= bx0 or bx1 + gap <= ax0 or ay1 + gap <= by0 or by1 + gap <= ay0
            assert not np.any(a.mask & b.mask)


def test_pixels_are_painted_in_the_shape_colour(scenes):
    scene = scenes[0]
    covered = np.zeros(scene.image.shape[:2], dtype=bool)
    for shape in scene.shapes:
        assert (scene.image[shape.mask] == COLOURS[shape.colour]).all()
        covered |= shape.mask
    assert (scene.image[~covered] == CONFIG.background).all()


def test_kinds_have_distinct_masks():
    fill = {}
    for kind in ("circle", "square", "triangle"):
        config = ShapesConfig(image_size=64, shape_size=(12, 20), kinds=(kind,), max_shapes=1)
        shape = generate_scene(np.random.default_rng(0), config).shapes[0]
        x0, y0, x1, y1 = shape.box
        fill[kind] = shape.mask.sum() / ((x1 - x0) * (y1 - y0))
    assert fill["square"] == 1.0
    assert 0.7 < fill["circle"] < 0.85  # pi / 4 ~ 0.785
    assert 0.4 < fill["triangle"] < 0.6


def _peaked_grid(h, w, row, col):
    grid = np.full((h, w), 0.01, dtype=np.float32)
    grid[row, col] = 1.0
    return grid / grid.sum()


def _cell_of(point_xy, grid_hw, image_hw):
    x, y = point_xy
    return int(y * grid_hw[0] / image_hw[0]), int(x * grid_hw[1] / image_hw[1])


def test_pointing_hit_true_on_shape_false_elsewhere(scenes):
    scene = next(s for s in scenes if len(s.shapes) == 3)
    size = CONFIG.image_size
    for index, shape in enumerate(scene.shapes):
        x0, y0, x1, y1 = shape.box
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)  # inside every kind (incl. triangle)
        row, col = _cell_of(centre, (16, 16), (size, size))
        assert pointing_hit(_peaked_grid(16, 16, row, col), scene, index)
        # the same peak is wrong for every other shape
        for other in range(len(scene.shapes)):
            if other != index:
                assert not pointing_hit(_peaked_grid(16, 16, row, col), scene, other)
    # a peak on empty background misses every shape
    covered = np.any([s.mask for s in scene.shapes], axis=0)
    ys, xs = np.nonzero(~covered)
    row, col = _cell_of((xs[0] + 0.5, ys[0] + 0.5), (size, size), (size, size))
    for index in range(len(scene.shapes)):
        assert not pointing_hit(_peaked_grid(size, size, row, col), scene, index)


def test_pointing_hit_maps_through_a_resized_input(scenes):
    # a plain resize keeps proportions: the model's input size must not change the answer
    rng = np.random.default_rng(0)
    outcomes = []
    for scene in scenes[:10]:
        for _ in range(5):
            grid = rng.random((7, 7))
            for index in range(len(scene.shapes)):
                native = pointing_hit(grid, scene, index)
                assert pointing_hit(grid, scene, index, image_size=(224, 224)) == native
                assert pointing_hit(grid, scene, index, image_size=224) == native
                outcomes.append(native)
    assert any(outcomes) and not all(outcomes)
    # a coarse 7x7 grid peaked on the cell holding a square's centre hits it
    square = ShapesConfig(image_size=64, shape_size=(18, 20), kinds=("square",), max_shapes=1)
    scene = generate_scene(np.random.default_rng(1), square)
    x0, y0, x1, y1 = scene.shapes[0].box
    row, col = _cell_of(((x0 + x1) / 2, (y0 + y1) / 2), (7, 7), (64, 64))
    assert pointing_hit(_peaked_grid(7, 7, row, col), scene, 0, image_size=224)


def test_pointing_hit_rejects_bad_input(scenes):
    with pytest.raises(ValueError, match="grid"):
        pointing_hit(np.ones(7), scenes[0], 0)
    with pytest.raises(ValueError, match="shape_index"):
        pointing_hit(np.ones((7, 7)), scenes[0], 5)


def test_mask_runs_round_trip(scenes):
    for shape in scenes[1].shapes:
        runs = encode_mask(shape.mask)
        np.testing.assert_array_equal(decode_mask(runs, shape.mask.shape), shape.mask)
    starts_true = np.array([[True, True], [False, True]])
    np.testing.assert_array_equal(decode_mask(encode_mask(starts_true), (2, 2)), starts_true)
    with pytest.raises(ValueError, match="pixels"):
        decode_mask([1, 2], (2, 2))


def test_write_dataset_files(tmp_path):
    scenes = write_dataset(tmp_path, 4, seed=5, config=CONFIG)
    with open(tmp_path / "captions.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["image", "caption"]
    assert [row[1] for row in rows[1:]] == [s.caption for s in scenes]
    annotations = json.loads((tmp_path / "shapes.json").read_text(encoding="utf-8"))
    assert annotations["seed"] == 5 and len(annotations["scenes"]) == 4
    for (name, _), record, scene in zip(rows[1:], annotations["scenes"], scenes, strict=True):
        pixels = np.asarray(Image.open(tmp_path / "images" / name).convert("RGB"))
        np.testing.assert_array_equal(pixels, scene.image)  # PNG: lossless
        assert record["image"] == name
        for stored, shape in zip(record["shapes"], scene.shapes, strict=True):
            assert tuple(stored["box"]) == shape.box
            assert stored["noun_index"] == shape.noun_index
            mask = decode_mask(stored["mask_runs"], tuple(annotations["image_size"]))
            np.testing.assert_array_equal(mask, shape.mask)


@pytest.mark.parametrize(
    "changes",
    [
        {"kinds": ("hexagon",)},
        {"colours": ("mauve",)},
        {"max_shapes": 4},
        {"min_shapes": 2, "max_shapes": 1},
        {"shape_size": (10, 60)},
    ],
)
def test_config_rejects_bad_settings(changes):
    with pytest.raises(ValueError):
        ShapesConfig(**{"image_size": 96, **changes})


def test_infeasible_layout_raises():
    crowded = ShapesConfig(image_size=32, shape_size=(16, 16), gap=4, min_shapes=3)
    with pytest.raises(ValueError, match="could not fit"):
        generate_scene(np.random.default_rng(0), crowded)
