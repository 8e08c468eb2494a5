"""`attnscope pointing`: attention and attributions checked against the shapes' ground truth.

A few fresh scenes with the bundled shapes captioner; the attribution is replaced
by hand-made ones whose peak is known to lie inside (or outside) the named shape,
so the plumbing (noun steps, rows, grid and pixel mapping) has a known answer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from attnscope.engine.cli import main
from attnscope.engine.commands.pointing import pointing_table
from attnscope.engine.explain import Attribution
from attnscope.engine.explain import pointing as explained
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import resource_dir
from attnscope.engine.shapes import generate_dataset
from attnscope.engine.shapes.pointing import measure_pointing, noun_steps

CHECKPOINT = resource_dir() / "checkpoints" / "shapes-attention.safetensors"
SEED = 20_261_202  # fresh: not a seed the shipped model trained, chose or reported on
SCENES = 3


@pytest.fixture(scope="module")
def captioner():
    return load_inference_model(CHECKPOINT, device="cpu")


def _peaked_at(inside: bool):
    """A stand-in for ``explain`` whose peak lies at a pixel inside the named shape (or
    outside every shape), per grid cell and per pixel."""

    def explain(model, picture, tokens, *, method, steps, ig_steps):
        scene = next(s for s in generate_dataset(SCENES, SEED) if np.array_equal(s.image, picture))
        caption = model.caption(picture, _greedy())
        by_step = {
            step: i for i, step in enumerate(noun_steps(caption.pieces, scene)) if step is not None
        }
        grid = (12, 12)
        size = scene.image.shape[:2]  # the scene fed at its own size: pixels map 1:1
        cells, pixels = np.zeros((len(steps), *grid)), np.zeros((len(steps), *size))
        centres = (np.arange(12) + 0.5) * size[0] / grid[0]  # cell centres, scene pixels
        covered = np.any([s.mask for s in scene.shapes], axis=0)
        for row, step in enumerate(steps):
            mask = scene.shapes[by_step[step]].mask if inside else ~covered
            ys, xs = np.nonzero(mask)
            pixels[row, ys[len(ys) // 2], xs[len(xs) // 2]] = 1.0
            centre_inside = mask[np.ix_(centres.astype(int), centres.astype(int))]  # (12, 12)
            cells[row][np.unravel_index(int(np.argmax(centre_inside)), grid)] = 1.0
        return Attribution(
            method=method,
            tokens=tuple(tokens),
            steps=tuple(steps),
            foil=None,
            scores=cells.reshape(len(steps), -1),
            pixels=pixels,
            target_values=np.zeros(len(steps)),
            baseline_values=None,
            grid=grid,
        )

    return explain


def _greedy():
    from attnscope.engine.decoding import DecodeConfig

    return DecodeConfig(max_length=40, max_length_ratio=0.0, topk_alternatives=0)


@pytest.mark.parametrize("inside", [True, False])
def test_a_peak_inside_the_named_shape_is_a_hit(captioner, monkeypatch, inside):
    import attnscope.engine.explain as explain_package

    monkeypatch.setattr(explain_package, "explain", _peaked_at(inside))
    scenes = generate_dataset(SCENES, SEED)
    report = explained.measure_explained_pointing(captioner, scenes, ["saliency"])
    plain = measure_pointing(captioner, scenes)
    assert (report.scenes, report.shapes, report.named) == (SCENES, plain.shapes, plain.named)
    assert report.named > 0
    assert report.counts["attention"].cell_hits == plain.hits  # the same test as before
    expected = report.named if inside else 0
    assert report.counts["saliency"].cell_hits == expected
    assert report.counts["saliency"].pixel_hits == expected
    assert 0 < report.chance < 1


def test_the_command_prints_a_row_per_explanation(capsys):
    argv = ["pointing", "--scenes", "1", "--seed", str(SEED), "--device", "cpu"]
    assert main([*argv, "--method", "saliency", "occlusion", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert list(figures["methods"]) == ["attention", "saliency", "occlusion"]
    for entry in figures["methods"].values():
        assert 0 <= entry["cell_hits"] <= figures["named"]
    assert figures["methods"]["attention"]["pixel_hits"] is None
    assert figures["methods"]["occlusion"]["pixel_hits"] is None  # it hides whole cells
    assert 0 <= figures["methods"]["saliency"]["pixel_hits"] <= figures["named"]
    table = pointing_table(figures, seed=SEED).splitlines()
    assert table[2].startswith("| explanation |") and table[-1].startswith("| chance")
    assert [row.split(" | ")[0] for row in table[4:-1]] == [
        "| attention",
        "| saliency",
        "| occlusion",
    ]


def test_bad_requests_exit_2(tiny_translation_checkpoint, capsys):
    assert main(["pointing", "--scenes", "0"]) == 2
    assert "--scenes must be between 1 and 100,000, got 0" in capsys.readouterr().err
    assert main(["pointing", "-c", str(tiny_translation_checkpoint), "--scenes", "1"]) == 2
    assert "is a translation model; pointing needs a captioner" in capsys.readouterr().err
