"""The captioning workspace, looking at attention: hover and click the picture, heads,
beam hypotheses, and the exports of what is shown. Real window, real worker, tiny model."""

import json
from pathlib import Path

import numpy as np
import pytest
from caption_window_support import (
    GRID,
    load_captioner,
    run_to_end,
    shown_overlay_matches,
    step_to,
    wait_snapshot,
)
from PIL import Image
from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest

from attnscope.gui.caption_view import caption_word


@pytest.fixture
def window(shown_window):
    return shown_window


# -- looking at attention ---------------------------------------------------------------------
def test_hovering_a_word_shows_its_map_and_leaving_restores(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    snapshot = step_to(qtbot, window, 3)
    view = window.caption_view
    grids = snapshot.attention[:, 0].reshape(3, *GRID)
    assert shown_overlay_matches(view, grids[2])
    QCoreApplication.sendEvent(view.chips.chips[0], QEvent(QEvent.Type.Enter))
    assert shown_overlay_matches(view, grids[0])
    assert "Word 1" in view.word_label.text()
    QCoreApplication.sendEvent(view.chips, QEvent(QEvent.Type.Leave))
    assert shown_overlay_matches(view, grids[2])
    QCoreApplication.sendEvent(view.strip.thumbnail_widget(1), QEvent(QEvent.Type.Enter))
    assert shown_overlay_matches(view, grids[1])


def test_clicking_a_region_lists_the_words_that_looked_there(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 5})
    snapshot = run_to_end(qtbot, window)
    view = window.caption_view
    overlay = view.overlay
    overlay.graphics_view().grab()  # apply the pending auto-range
    gx, gy = 2, 1
    gview = overlay.graphics_view()
    point = gview.mapFromScene(overlay.scene_pos_of_cell(gx, gy))
    QTest.mouseClick(gview.viewport(), Qt.LeftButton, pos=point)
    rows = view.region_chart.rows()
    weights = snapshot.attention[:, 0].reshape(-1, *GRID)[:, gy, gx]
    assert len(rows) == len(snapshot.steps)
    assert [r[2] for r in rows] == sorted(weights.tolist(), reverse=True)
    top_step, top_word, top_weight = rows[0]
    assert top_weight == pytest.approx(float(weights.max()))
    assert top_word == caption_word(snapshot.target_pieces[top_step])
    # clicking the top bar selects that word
    with qtbot.waitSignal(view.stepSelected) as blocker:
        QTest.mouseClick(view.region_chart, Qt.LeftButton, pos=view.region_chart.row_centre(0))
    assert blocker.args == [top_step]
    chart = view.region_chart
    with qtbot.waitSignal(view.stepSelected) as blocker:
        QTest.mouseClick(chart, Qt.LeftButton, pos=chart.row_centre(len(rows) - 1))
    assert blocker.args == [rows[-1][0]]
    assert "row 2, column 3 (of 3×3)" in view.region_chart.title()


def test_multihead_maps_follow_the_head_selector(qtbot, window, multihead_captioner):
    load_captioner(qtbot, window, multihead_captioner)
    snapshot = step_to(qtbot, window, 2)
    view = window.caption_view
    assert not view.head_box.isHidden() and view.head_box.count() == 3
    per_head = snapshot.attention.reshape(2, 2, 4, 4)  # (T, heads, h, w)
    np.testing.assert_allclose(view.shown_grid(), per_head[1].mean(axis=0), atol=1e-6)
    view.set_head(1)
    np.testing.assert_allclose(view.shown_grid(), per_head[1, 1], atol=1e-6)
    assert shown_overlay_matches(view, per_head[1, 1])
    assert view.strip.thumbnail_count() == 2
    assert view.attention_grids().shape == (2, 1, 2, 4, 4)  # (T, layers, heads, h, w)


def test_beam_hypothesis_selection_shows_its_words_and_maps(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3, "max_length": 6})
    snapshot = run_to_end(qtbot, window)
    tree = snapshot.tree
    other = next(
        n
        for n in range(1, len(tree))
        if n not in tree.path(snapshot.best_node) and tree.steps[n] >= 1
    )
    window.analysis.beam_tree.nodeSelected.emit(other)
    path = tree.path(other)
    view = window.caption_view
    assert len(view.chips.chips) == len(path) == view.strip.thumbnail_count()
    expected = snapshot.node_attention[path][-1, 0].reshape(GRID)
    np.testing.assert_allclose(view.shown_grid(), expected, atol=1e-6)


# -- exports ----------------------------------------------------------------------------------
def test_exports_write_files_that_open(qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 4})
    snapshot = run_to_end(qtbot, window)
    window.select_step(1)
    exporter = window.captioning.exporter
    exporter.overlay_png(str(tmp_path / "overlay.png"))
    exporter.strip_png(str(tmp_path / "strip.png"))
    exporter.grids_npy(str(tmp_path / "grids.npy"))
    exporter.decode_json(str(tmp_path / "decode.json"))
    height, width = snapshot.image.shape[:2]
    overlay = Image.open(tmp_path / "overlay.png")
    assert overlay.size == (width, height)
    assert not np.array_equal(np.asarray(overlay.convert("RGB")), snapshot.image)
    strip = Image.open(tmp_path / "strip.png")
    assert strip.size[0] > len(snapshot.steps) * 100
    grids = np.load(tmp_path / "grids.npy")
    assert grids.shape == (len(snapshot.steps), 1, 1, *GRID)  # (T, layers, heads, h, w)
    np.testing.assert_allclose(grids.reshape(len(snapshot.steps), 1, -1), snapshot.attention)
    payload = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    assert payload["caption"] == snapshot.target_text
    assert payload["image"] == Path(snapshot.source_text).name
    assert payload["grid"] == list(GRID)
    assert np.asarray(payload["attention"]).shape == grids.shape
    assert len(payload["steps"]) == len(snapshot.steps)


def test_export_before_any_word_says_so(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)  # the first screen is captioned on load
    wait_snapshot(qtbot, window, window.reset, lambda s: len(s.steps) == 0)  # no word yet
    from attnscope.gui.caption_controller import _ask_and_export

    _ask_and_export(window.captioning.exporter, "PNG (*.png)", ".png", "strip_png")
    assert "Nothing to export" in window.message_bar.text()
