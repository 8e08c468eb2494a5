"""The image what-if in the caption workspace: drawing masks, re-captioning, the diff.

The mask layer is tested on a bare overlay; the re-caption through a real
window, worker thread and the tiny captioner of tests/gui/conftest.py.
"""

import numpy as np
import pytest
from caption_window_support import GRID, load_captioner, run_to_end
from PySide6.QtCore import QPointF
from window_support import TIMEOUT, wait_snapshot

from attnscope.engine.image_masks import attended_mask, mask_image, rect_mask
from attnscope.gui.image_overlay import QtImageAttentionOverlay
from attnscope.gui.image_what_if import MaskedCaptionRequest
from attnscope.gui.mask_tools import MaskLayer, MaskToolbar


@pytest.fixture
def layer(qtbot):
    overlay = QtImageAttentionOverlay()
    qtbot.addWidget(overlay)
    overlay.set_image(np.zeros((40, 60, 3), np.uint8))
    layer = MaskLayer(overlay)
    layer.set_picture_shape((40, 60))
    return layer


# -- the mask layer on its own ------------------------------------------------------------------
def test_rectangles_add_up_and_undo_takes_them_back(layer):
    layer.add_rect(0, 0, 10, 10)
    layer.add_rect(50, 30, 60, 40)
    expected = rect_mask((40, 60), 0, 0, 10, 10) | rect_mask((40, 60), 50, 30, 60, 40)
    assert np.array_equal(layer.mask(), expected)
    layer.undo()
    assert np.array_equal(layer.mask(), rect_mask((40, 60), 0, 0, 10, 10))
    layer.undo()
    assert layer.mask() is None and not layer.can_undo()


def test_clear_can_be_undone_and_a_new_picture_forgets_the_mask(layer):
    layer.add_stroke([(5, 5), (30, 5)], radius=3)
    painted = layer.mask()
    layer.clear()
    assert layer.mask() is None and layer.covered_share() == 0
    layer.undo()
    assert np.array_equal(layer.mask(), painted)
    layer.set_picture_shape((20, 20))
    assert layer.mask() is None


def test_dragging_with_the_rectangle_tool_draws_in_picture_pixels(layer):
    layer.set_tool("rectangle")
    box = layer._overlay.view_box()
    down, up = box.mapViewToScene(QPointF(10, 5)), box.mapViewToScene(QPointF(30, 25))
    layer.drag(down, up, start=True, finish=False)
    assert layer.mask() is None  # a preview only
    layer.drag(down, up, start=False, finish=True)
    assert np.array_equal(layer.mask(), rect_mask((40, 60), 10, 5, 30, 25))


def test_dragging_with_the_brush_paints_a_stroke(layer):
    layer.set_tool("brush")
    layer.set_brush_percent(5)  # 3 px on a 60 px side
    box = layer._overlay.view_box()
    points = [box.mapViewToScene(QPointF(x, 20)) for x in (10, 30, 50)]
    layer.drag(points[0], points[1], start=True, finish=False)
    layer.drag(points[0], points[2], start=False, finish=True)
    mask = layer.mask()
    assert mask[20, 10:50].all() and not mask[5, 30]


def test_select_tool_does_not_draw_and_bad_edits_raise(layer):
    assert not layer.drawing()
    with pytest.raises(ValueError, match="unknown mask tool"):
        layer.set_tool("lasso")
    with pytest.raises(ValueError, match="covers no pixel"):
        layer.add_rect(100, 100, 120, 120)
    with pytest.raises(ValueError, match="does not fit the picture"):
        layer.set_mask(np.ones((5, 5), bool))
    layer.set_picture_shape(None)
    with pytest.raises(ValueError, match="no picture to mask"):
        layer.add_rect(0, 0, 5, 5)


def test_toolbar_enables_its_actions_with_the_mask(qtbot, layer):
    bar = MaskToolbar(layer)
    qtbot.addWidget(bar)
    assert not bar.recaption_action.isEnabled() and not bar.undo_action.isEnabled()
    layer.add_rect(0, 0, 30, 20)
    assert bar.recaption_action.isEnabled() and bar.clear_action.isEnabled()
    assert bar.coverage.text() == "25.0 % masked"
    bar.set_busy(True)
    assert not bar.recaption_action.isEnabled()
    assert bar.recaption_action.shortcut().toString() == "Ctrl+Shift+M"
    assert "Ctrl+Shift+M" in bar.recaption_action.toolTip()
    bar.tool_actions["brush"].trigger()
    assert layer.tool() == "brush"
    with pytest.raises(ValueError, match="valid: grey, blur, noise"):
        bar.set_fill("paint")


# -- the re-caption in the window -----------------------------------------------------------------
def _masked_answer(qtbot, window, action):
    worker = window.client.worker
    with qtbot.waitSignal(worker.maskedCaption, timeout=TIMEOUT, check_params_cb=lambda r: r.done):
        action()


def test_recaption_with_a_rectangle_shows_the_diff_and_keeps_the_original(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    original = run_to_end(qtbot, window)
    view, what_if = window.caption_view, window.image_what_if
    height, width = original.image.shape[:2]
    view.masks.add_rect(0, 0, width / 2, height)
    view.mask_bar.set_fill("noise")
    _masked_answer(qtbot, window, view.mask_bar.recaption_action.trigger)
    qtbot.waitUntil(lambda: what_if.result is not None, timeout=TIMEOUT)
    panel = view.what_if_panel
    assert not panel.isHidden() and what_if.diff.describe() in panel.diff_line.text()
    assert what_if.result.first_token_ms > 0 and what_if.shown_ms is not None
    expected = mask_image(original.image, view.masks.mask(), "noise", seed=0)
    assert np.array_equal(what_if.result.snapshot.image, expected)
    assert view.showing_masked() and view._shown_image is what_if.result.snapshot.image
    assert window.state.snapshot is original  # the shown decode was never replaced
    panel.switch.click()  # Show original
    assert not view.showing_masked() and view._shown_image is original.image
    assert view.caption_label.text() == original.target_text
    panel.switch.click()  # and the masked one again
    assert view.showing_masked()


def test_mask_what_the_selected_word_looked_at(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    original = run_to_end(qtbot, window)
    window.select_step(0)
    view = window.caption_view
    word = original.steps[0].piece.lstrip("▁")
    assert view.mask_bar.mask_word_action.text() == f"Mask what word 1 “{word}” looked at"
    view.mask_bar.word_share.setValue(30)
    view.mask_bar.mask_word_action.trigger()
    weights = original.attention[0].reshape(-1, *GRID)
    assert np.array_equal(view.masks.mask(), attended_mask(weights, original.image.shape[:2], 0.3))
    assert "word 1" in window.message_bar.text()


def test_bad_requests_get_one_message_and_change_nothing(qtbot, window, captioner):
    what_if = window.image_what_if
    assert not what_if.recaption()
    assert "Caption a picture first" in window.message_bar.text()
    load_captioner(qtbot, window, captioner)  # captioned to the end on load
    wait_snapshot(qtbot, window, window.reset, lambda s: len(s.steps) == 0)
    assert not what_if.recaption()  # no step taken yet
    assert "Finish the caption first" in window.message_bar.text()
    run_to_end(qtbot, window)
    assert not what_if.recaption()
    assert "Draw a mask on the picture first" in window.message_bar.text()
    image = window.state.snapshot.image
    window.caption_view.masks.add_rect(-10, -10, image.shape[1] + 10, image.shape[0] + 10)
    assert not what_if.recaption()
    assert "covers the whole picture" in window.message_bar.text()
    assert window.caption_view.what_if_panel.isHidden()


def test_a_refused_request_in_the_worker_becomes_a_message(qtbot, window, captioner, caplog):
    load_captioner(qtbot, window, captioner)
    original = run_to_end(qtbot, window)
    bad = MaskedCaptionRequest(original.image, np.ones((3, 3), bool), "grey", 0, 0.0, serial=1)
    caplog.set_level("INFO", logger="attnscope.gui.worker")
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT) as failed:
        window.client.recaption_masked(bad, window.state.decode_config)
    assert "does not fit a picture" in failed.args[0]
    assert window.state.snapshot is original
    refused = [r for r in caplog.records if r.name == "attnscope.gui.worker"]
    assert refused and "does not fit a picture" in refused[-1].getMessage()
    assert all(r.exc_info is None for r in refused)  # a bad mask is said, not a traceback
