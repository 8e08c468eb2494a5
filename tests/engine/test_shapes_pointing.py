"""Pointing accuracy: the shipped shapes captioner looks at the shape it names.

The noun-step mapping is tested on hand-made piece sequences; the bundled
``shapes-attention`` checkpoint is then run on fresh scenes (a seed it was
neither trained nor validated on) and must point inside the named shape for
at least 90 % of the shapes it names (the issue's target; resources/README.md
has the figures on 300 fresh scenes).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from attnscope.engine.checkpoint import read_checkpoint_info
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import resource_dir
from attnscope.engine.shapes.cli import main
from attnscope.engine.shapes.pointing import caption_words, measure_pointing, noun_steps
from attnscope.engine.shapes.scenes import Scene, SceneShape, generate_dataset
from attnscope.engine.training.data import load_captioned_images

CHECKPOINT = resource_dir() / "checkpoints" / "shapes-attention.safetensors"
FRESH_SEED = 20_240_607  # not the training (1) / dev (2) / report (3) / gallery (4) seed
FRESH_SCENES = 40


def _scene(*parts: tuple[str, str]) -> Scene:
    """A scene with only the (colour, kind) of each shape filled in meaningfully."""
    mask = np.zeros((4, 4), dtype=bool)
    shapes = tuple(
        SceneShape(kind=kind, colour=colour, box=(0, 0, 1, 1), noun_index=0, mask=mask)
        for colour, kind in parts
    )
    return Scene(image=np.zeros((4, 4, 3), np.uint8), caption="", shapes=shapes)


def test_caption_words_start_at_the_first_piece_and_skip_control_pieces():
    pieces = ["▁a", "▁red", "▁tri", "angle", "▁above", "<unk>", "▁an", "▁orange", "▁circle", "</s>"]
    assert caption_words(pieces) == [
        ("a", 0),
        ("red", 1),
        ("triangle", 2),
        ("above", 4),
        ("an", 6),
        ("orange", 7),
        ("circle", 8),
    ]


def test_a_continuation_piece_at_the_start_still_opens_a_word():
    assert caption_words(["red", "▁circle"]) == [("red", 0), ("circle", 1)]


def test_noun_steps_find_each_named_shape_once():
    # "a blue square left of a red circle and a green triangle above the red circle"
    pieces = ["▁a", "▁blue", "▁squ", "are", "▁left", "▁of", "▁a", "▁red", "▁circle", "▁and"]
    pieces += ["▁a", "▁green", "▁triangle", "▁above", "▁the", "▁red", "▁circle", "</s>"]
    scene = _scene(("red", "circle"), ("green", "triangle"), ("blue", "square"), ("red", "square"))
    # first mention wins over the back-reference; "red square" is never said
    assert noun_steps(pieces, scene) == [8, 12, 2, None]


def test_noun_steps_need_the_colour_right_before_the_kind():
    scene = _scene(("red", "circle"))
    assert noun_steps(["▁a", "▁circle", "▁red", "</s>"], scene) == [None]
    assert noun_steps(["▁a", "▁red", "▁big", "▁circle"], scene) == [None]


def test_whole_word_pieces_of_a_template_caption_map_to_its_noun_indices():
    for scene in generate_dataset(30, seed=5):
        pieces = ["▁" + word for word in scene.caption.split()] + ["</s>"]
        assert noun_steps(pieces, scene) == [shape.noun_index for shape in scene.shapes]


def test_write_command_makes_train_and_dev_splits_the_trainer_reads(tmp_path):
    assert main(["write", str(tmp_path), "--n", "4", "--seed", "1", "--dev-n", "2"]) == 0
    splits = tmp_path / "splits.tsv"
    train = load_captioned_images(
        tmp_path / "images", tmp_path / "captions.csv", split_path=splits, splits=["train"]
    )
    dev = load_captioned_images(
        tmp_path / "images", tmp_path / "captions.csv", split_path=splits, splits=["dev"]
    )
    assert [item.path.name for item in train] == [f"train_{i:05d}.png" for i in range(4)]
    assert [item.captions for item in train] == [(s.caption,) for s in generate_dataset(4, 1)]
    assert [item.captions for item in dev] == [(s.caption,) for s in generate_dataset(2, 2)]
    annotations = json.loads((tmp_path / "shapes.json").read_text())
    assert annotations["splits"]["dev"]["seed"] == 2
    assert len(annotations["splits"]["train"]["scenes"]) == 4


@pytest.fixture(scope="module")
def shapes_model():
    return load_inference_model(CHECKPOINT, device="cpu")


def test_shipped_shapes_model_is_a_small_fp16_captioner():
    info = read_checkpoint_info(CHECKPOINT)
    assert info["task"] == "captioning"
    assert info["storage_dtype"] == "float16"
    assert info["file_size"] <= 15 * 1024 * 1024
    assert info["heads"] == 1


def _chance(scenes) -> float:
    """Pointing accuracy of a peak dropped uniformly at random: mean shape area fraction."""
    return float(np.mean([shape.mask.mean() for scene in scenes for shape in scene.shapes]))


@pytest.fixture(scope="module")
def fresh_report(shapes_model):
    scenes = generate_dataset(FRESH_SCENES, seed=FRESH_SEED)
    return measure_pointing(shapes_model, scenes), _chance(scenes)


def test_shipped_shapes_model_points_well_above_chance(fresh_report):
    report, chance = fresh_report
    assert report.scenes == FRESH_SCENES
    assert report.shapes >= FRESH_SCENES  # every scene has at least one shape
    assert report.named >= report.hits
    assert report.accuracy >= 2 * chance, (report, chance)


def test_shipped_shapes_model_points_inside_the_shapes_it_names(fresh_report):
    """The issue's measure: the attention peak at a shape's noun lies inside that shape."""
    report, _ = fresh_report
    assert report.named >= FRESH_SCENES  # at least one shape named per scene on average
    assert report.named_accuracy >= 0.9, report


@pytest.mark.xfail(
    reason="shapes the caption never names count as misses here: the shipped model names "
    "85 % of the shapes (it stops after two in about a third of three-shape scenes), so "
    "81.6 % of all shapes in 300 fresh scenes (resources/README.md, shapes-attention)",
    strict=False,
)
def test_shipped_shapes_model_points_at_every_shape(fresh_report):
    report, _ = fresh_report
    assert report.accuracy >= 0.9, report


def test_report_counts_unnamed_shapes_as_misses_and_also_gives_the_named_rate():
    from attnscope.engine.shapes.pointing import PointingReport

    report = PointingReport(scenes=2, shapes=5, named=4, hits=3)
    assert report.accuracy == pytest.approx(0.6) and report.named_accuracy == pytest.approx(0.75)
    assert report.to_dict()["named_accuracy"] == pytest.approx(0.75)
    assert PointingReport(scenes=0, shapes=0, named=0, hits=0).named_accuracy == 0.0
