"""The word strip keeps unchanged thumbnails and follows the overlay's colour map."""

import numpy as np
import pytest

from attnscope.gui.attention_render import attention_thumbnail
from attnscope.gui.attention_strip import QtAttentionStrip
from attnscope.gui.image_overlay import QtImageAttentionOverlay

WORDS = ["a", "dog", "runs", "fast"]


def _grids(count: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((3, 4)).astype(np.float32) for _ in range(count)]


def _image() -> np.ndarray:
    rgb = np.zeros((30, 40, 3), dtype=np.uint8)
    rgb[..., 1] = np.linspace(0, 255, 40, dtype=np.uint8)[None, :]
    return rgb


@pytest.fixture
def strip(qtbot):
    view = QtAttentionStrip(thumb_size=32)
    qtbot.addWidget(view)
    view.set_image(_image())
    return view


def _widgets(strip: QtAttentionStrip) -> list:
    return [strip.thumbnail_widget(i) for i in range(strip.thumbnail_count())]


def test_a_growing_caption_keeps_the_earlier_thumbnails(strip):
    grids = _grids(4)
    strip.set_words(WORDS[:3], grids[:3])
    first = _widgets(strip)
    strip.set_words(WORDS, grids)  # one word more, as after a live step
    after = _widgets(strip)
    assert after[:3] == first  # the same widget objects: nothing redrawn
    assert after[3] not in first
    expected = attention_thumbnail(
        grids[3], _image(), 32, mode="smooth", colormap_name="viridis", opacity=0.6
    )
    np.testing.assert_array_equal(strip.thumbnails()[3], expected)


def test_a_changed_word_or_grid_redraws_from_there_on(strip):
    grids = _grids(4)
    strip.set_words(WORDS, grids)
    before = _widgets(strip)
    changed = [g.copy() for g in grids]
    changed[2][0, 0] += 0.5
    strip.set_words(WORDS, changed)
    after = _widgets(strip)
    assert after[:2] == before[:2]
    assert not set(after[2:]) & set(before)
    strip.set_words(["the", *WORDS[1:]], changed)  # first word differs: all redrawn
    assert not set(_widgets(strip)) & set(after)


def test_the_strip_keeps_its_own_copy_of_the_grids(strip):
    grids = _grids(2)
    strip.set_words(WORDS[:2], grids)
    before = _widgets(strip)
    grids[1] *= 0.0  # the caller reuses its buffer
    strip.set_words(WORDS[:2], grids)
    assert _widgets(strip)[0] is before[0]
    assert _widgets(strip)[1] is not before[1]


def test_fewer_words_drop_the_tail_and_the_selection_survives(strip):
    strip.set_words(WORDS[:2], _grids(2))
    strip.select(2)
    strip.set_words(WORDS, _grids(4))
    frames = [w.styleSheet() for w in _widgets(strip)]
    assert frames[2] != frames[0] and frames[0] == frames[1] == frames[3]
    kept = strip.thumbnail_widget(0)
    strip.set_words(WORDS[:1], _grids(1))
    assert strip.thumbnail_count() == 1 and strip.thumbnail_widget(0) is kept
    assert len(strip.thumbnails()) == 1


def test_a_new_picture_or_colour_map_redraws_every_thumbnail(strip):
    strip.set_words(WORDS[:2], _grids(2))
    before, pictures = _widgets(strip), strip.thumbnails()
    strip.set_colormap("magma")
    assert strip.colormap_name() == "magma"
    assert not set(_widgets(strip)) & set(before)
    assert not np.array_equal(strip.thumbnails()[0], pictures[0])
    same = _widgets(strip)
    strip.set_colormap("magma")  # unchanged: nothing to do
    assert _widgets(strip) == same
    strip.set_image(None)
    assert strip.thumbnails()[0].shape == (24, 32, 3)  # the map alone, (3, 4) cells
    with pytest.raises(ValueError, match="viridis"):
        strip.set_colormap("no-such-map")


def test_overlay_announces_colour_map_changes(qtbot):
    overlay = QtImageAttentionOverlay()
    qtbot.addWidget(overlay)
    with qtbot.waitSignal(overlay.colormapChanged) as blocker:
        overlay._cmap_combo.setCurrentText("inferno")  # the user's pick
    assert blocker.args == ["inferno"] and overlay.colormap_name() == "inferno"
    with qtbot.waitSignal(overlay.colormapChanged) as blocker:
        overlay.set_colormap("magma")
    assert blocker.args == ["magma"]
    with qtbot.assertNotEmitted(overlay.colormapChanged):
        overlay.set_colormap("magma")


def test_caption_strip_and_its_export_follow_the_overlay_colours(qtbot):
    from attnscope.engine.inference import SessionSnapshot, TokenStep
    from attnscope.gui.caption_view import CaptionWorkspace

    view = CaptionWorkspace(example_paths=[])
    qtbot.addWidget(view)
    attention = np.stack(_grids(3)).reshape(3, 1, 12)  # (T, heads, h·w)
    steps = tuple(
        TokenStep(4 + i, f"▁{w}", -0.5, np.arange(2), np.full(2, 0.5), ("x", "y"), False)
        for i, w in enumerate(WORDS[:3])
    )
    view.show_snapshot(
        SessionSnapshot(
            source_text="fake.png",
            source_pieces=(),
            target_pieces=tuple(s.piece for s in steps),
            target_text=" ".join(WORDS[:3]),
            steps=steps,
            attention=attention,
            num_heads=1,
            done=False,
            strategy="greedy",
            grid=(3, 4),
            image=_image(),
        ),
        0,
    )
    strip_before, export_before = view.strip.thumbnails(), view.render_strip()
    view.overlay.set_colormap("magma")
    assert view.strip.colormap_name() == "magma"
    assert not np.array_equal(view.strip.thumbnails()[0], strip_before[0])
    export_after = view.render_strip()
    assert export_after.shape == export_before.shape
    assert not np.array_equal(export_after, export_before)
