"""The Explain panel on the real window and worker thread, with a fake attribution engine
(tests/gui/explain_support.py): what it shows, caches, cancels, drops and exports.

Each test is one user session on one loaded model (a window and a load cost seconds)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from caption_window_support import GRID, load_captioner
from explain_support import expected_row, explain_and_wait, use_fake_engine
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSlider
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.decode_record import load_schema
from attnscope.engine.errors import AttnScopeError
from attnscope.gui.explain_panel import SELECTED_STEP, WHOLE_OUTPUT


class ExplainError(AttnScopeError):
    """A refusal like the engine's (an AttnScopeError: said in one line, no traceback)."""


def decoded(qtbot, window, checkpoint):
    """Load ``checkpoint`` and show a finished decode of SOURCE, with no answer of the
    worker still on its way (the decode made on load may finish after the load)."""
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    before = window.state.snapshot
    window.decode_actions.run.setChecked(True)
    wait_snapshot(
        qtbot,
        window,
        window.toggle_run,
        lambda s: s.done and s is not before and s.source_text == SOURCE,
    )
    qtbot.waitUntil(lambda: not window.decode_actions.run.isChecked(), timeout=TIMEOUT)
    with qtbot.waitSignal(window.client.answered, timeout=TIMEOUT):
        window.client.ping(0)  # the panel pings with negatives, the decode requests from 1
    assert window.state.snapshot.done
    return window.state.snapshot


def settle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.explain_tools.panel.busy(), timeout=TIMEOUT)


def test_the_heat_maps_shape_for_the_selected_step_and_the_whole_output_cached(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    snapshot = decoded(qtbot, window, tiny_translation_checkpoint)
    rows, width = len(snapshot.steps), len(snapshot.source_pieces)
    panel, controller = window.explain_tools.panel, window.explain_tools.controller
    window.select_step(1)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    shown = panel.text_view.attribution.matrix()
    assert shown.shape == window.translate_view.heatmap.matrix().shape == (rows, width)
    assert panel.text_view.attention.matrix().shape == (rows, width)
    assert np.isfinite(shown).all(axis=1).tolist() == [step == 1 for step in range(rows)]
    np.testing.assert_allclose(controller.matrix()[1], expected_row(1, width))
    share = np.abs(expected_row(1, width)) / np.abs(expected_row(1, width)).sum()
    np.testing.assert_allclose(shown[1], share, rtol=1e-5)  # each token's share of the row
    assert "Step 2: Spearman ρ 0.25" in panel.agreement_label.text()

    assert not controller.explain()  # cached: drawn again, nothing asked
    window.select_step(0)  # the panel is shown and the decode finished: explained at once
    qtbot.waitUntil(lambda: engine.calls[-1] == ("saliency", (0,), None), timeout=TIMEOUT)
    settle(qtbot, window)
    window.select_step(1)
    assert len(engine.calls) == 2  # back to a cached step: no new work
    explain_and_wait(qtbot, window, WHOLE_OUTPUT)
    assert engine.calls[-1] == ("saliency", tuple(range(2, rows)), None)  # only the rest
    assert np.isfinite(panel.text_view.attribution.matrix()).all()
    assert f"mean over {rows} of {rows} steps" in panel.agreement_label.text()

    panel.set_scope(SELECTED_STEP)
    panel.set_method("ig")  # another method: explained afresh
    qtbot.waitUntil(lambda: engine.calls[-1] == ("ig", (1,), None), timeout=TIMEOUT)
    settle(qtbot, window)
    foil = int(snapshot.steps[1].topk_ids[1])
    panel.set_foil(foil)  # "why this token rather than the foil?"
    qtbot.waitUntil(lambda: engine.calls[-1] == ("ig", (1,), foil), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: np.isfinite(controller.matrix()[1, 0]), timeout=TIMEOUT)
    np.testing.assert_allclose(controller.matrix()[1], expected_row(1, width, foil))
    calls = len(engine.calls)
    panel.set_foil(None)
    panel.set_method("saliency")
    assert len(engine.calls) == calls  # both were explained before


def test_cancel_escape_and_a_new_model_mid_run_leave_nothing_stale(
    qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    decoded(qtbot, window, tiny_translation_checkpoint)
    panel, controller = window.explain_tools.panel, window.explain_tools.controller
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    escape = lambda: qtbot.keyClick(panel.method_combo, Qt.Key_Escape)  # noqa: E731
    for stop in (panel.cancel_button.click, escape):  # Esc: not the window's Reset
        engine.hold, answers = True, controller.answers
        engine.started.clear()
        window.explain_tools.explain(WHOLE_OUTPUT)
        assert panel.busy() and panel.cancel_button.isEnabled()
        assert engine.started.wait(TIMEOUT / 1000)
        stop()
        settle(qtbot, window)
        assert controller.answers == answers
        assert np.isfinite(controller.matrix()[0]).all()  # the step explained before stays
        assert np.isnan(controller.matrix()[1:]).all()

    engine.started.clear()
    window.explain_tools.explain(WHOLE_OUTPUT)  # still held: a new model comes first
    assert engine.started.wait(TIMEOUT / 1000)
    answers = controller.answers
    snapshot = decoded(qtbot, window, tiny_multihead_checkpoint)  # cancels the attribution
    assert not panel.busy() and controller.answers == answers
    assert controller.cached_steps() == 0 and np.isnan(controller.matrix()).all()
    engine.hold = False
    engine.refusal = ExplainError("the source is longer than the attribution allows")
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT):
        window.explain_tools.explain(WHOLE_OUTPUT)
    settle(qtbot, window)  # refused: said once in the message bar, the panel idle again
    assert "longer than the attribution allows" in window.message_bar.text()
    explain_and_wait(qtbot, window, WHOLE_OUTPUT)  # the worker is free again
    assert controller.matrix().shape == (len(snapshot.steps), len(snapshot.source_pieces))
    assert np.isfinite(controller.matrix()).all()
    assert panel.text_view.attention.heads().shape[1] == 4  # the new model's heads


def test_attribution_exports_hold_the_explained_matrix_even_without_attention(
    qtbot, window, tiny_plain_checkpoint, monkeypatch, tmp_path
):
    engine = use_fake_engine(monkeypatch)
    exporter, panel = window.explain_tools.exporter, window.explain_tools.panel
    window.explain_tools.explain(WHOLE_OUTPUT)  # no model, no output: said, nothing asked
    assert panel.status_label.text() == "Decode something first." and not engine.calls
    snapshot = decoded(qtbot, window, tiny_plain_checkpoint)
    with pytest.raises(ValueError, match="no step is explained"):
        exporter.attribution_npy(str(tmp_path / "none.npy"))
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    rows, width = len(snapshot.steps), len(snapshot.source_pieces)
    view = panel.text_view
    assert view.attention_pages.currentWidget() is view.no_attention
    assert view.attribution.matrix().shape == (rows, width)
    assert "No attention" in panel.agreement_label.text()

    exporter.attribution_npy(str(tmp_path / "a.npy"))
    exporter.attribution_csv(str(tmp_path / "a.csv"))
    saved = np.load(tmp_path / "a.npy")
    assert saved.shape == (rows, width) and saved.dtype == np.float32
    np.testing.assert_allclose(saved[0], expected_row(0, width))
    assert np.isnan(saved[1:]).all()
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == rows + 1 and len(lines[0].split(",")) == width + 1
    assert [float(v) for v in lines[1].split(",")[1:]] == expected_row(0, width).tolist()
    assert rows == 1 or lines[2].split(",")[1] == "nan"
    qtbot.waitUntil(panel.isVisible, timeout=TIMEOUT)
    exporter.figure_png(str(tmp_path / "a.png"))
    exporter.figure_svg(str(tmp_path / "a.svg"))
    from PIL import Image

    assert Image.open(tmp_path / "a.png").size == (2 * view.width(), 2 * view.height())
    assert "<svg" in (tmp_path / "a.svg").read_text(encoding="utf-8")

    window.exporter.decode_json(str(tmp_path / "decode.json"))  # the record carries them too
    record = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(load_schema()).validate(record)
    [entry] = record["attributions"]
    assert (entry["method"], entry["foil"], entry["steps"]) == ("saliency", None, [0])
    np.testing.assert_allclose(entry["scores"][0], expected_row(0, width), rtol=1e-6)


def test_a_caption_word_shows_its_attribution_beside_its_attention(
    qtbot, window, captioner, monkeypatch, tmp_path
):
    engine = use_fake_engine(monkeypatch)
    snapshot = load_captioner(qtbot, window, captioner)
    panel = window.explain_tools.panel
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    assert panel.views.currentWidget() is panel.image_view
    assert window.explain_tools.controller.matrix().shape == (
        len(snapshot.steps),
        GRID[0] * GRID[1],
    )
    overlays = panel.image_view.attention, panel.image_view.attribution
    assert all(overlay.overlay_array() is not None for overlay in overlays)
    cells = overlays[1].overlay_array()  # per grid cell: the fake's scores rise along a row
    assert cells[:, -1].mean() > cells[:, 0].mean()
    panel.image_view.per_pixel.setChecked(True)  # the fake's pixels: a ramp left to right
    pixels = overlays[1].overlay_array()
    assert not np.allclose(pixels, cells) and pixels[:, -1].mean() > pixels[:, 0].mean()
    assert engine.calls == [("saliency", (0,), None)]
    overlays[0].findChild(QSlider).setValue(25)  # the user moves one overlay's opacity
    overlays[0].set_colormap("magma")
    assert overlays[1].opacity() == 0.25 and overlays[1].colormap_name() == "magma"
    window.explain_tools.exporter.figure_png(str(tmp_path / "caption.png"))
    assert (tmp_path / "caption.png").stat().st_size > 0


def test_view_explain_opens_the_panel_floating_over_the_window(qtbot, shown_window):
    """Not floating at start-up (a hidden floating dock is a window of its own: offscreen Qt
    warns), but floating over the window's lower part when first shown from the View menu."""
    dock = shown_window.explain_tools.dock
    assert not dock.isFloating() and not dock.isVisible()
    toggle = dock.toggleViewAction()
    toggle.trigger()
    qtbot.waitUntil(dock.isVisible, timeout=TIMEOUT)
    assert dock.isFloating()
    assert shown_window.geometry().contains(dock.geometry().center())
    toggle.trigger()
    assert not dock.isVisible()
