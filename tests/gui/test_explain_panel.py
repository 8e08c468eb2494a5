"""The Explain panel on the real window and worker thread, with a fake attribution engine
(tests/gui/explain_support.py): what it shows, caches, cancels, drops and exports."""

from __future__ import annotations

import numpy as np
import pytest
from explain_support import expected_row, explain_and_wait, use_fake_engine
from PySide6.QtCore import Qt
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.gui.explain_panel import SELECTED_STEP, WHOLE_OUTPUT


def decoded(qtbot, window, checkpoint):
    """Load ``checkpoint`` and show a finished decode of SOURCE."""
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(
        qtbot, window, window.toggle_run, lambda s: s.done and s.source_text == SOURCE
    )


def test_the_selected_step_and_the_whole_output_have_the_heat_maps_shape(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    snapshot = decoded(qtbot, window, tiny_translation_checkpoint)
    rows, width = len(snapshot.steps), len(snapshot.source_pieces)
    window.select_step(1)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    panel, controller = window.explain_tools.panel, window.explain_tools.controller
    shown = panel.text_view.attribution.matrix()
    assert shown.shape == window.translate_view.heatmap.matrix().shape == (rows, width)
    assert panel.text_view.attention.matrix().shape == (rows, width)
    explained = np.isfinite(shown).all(axis=1)
    assert explained.tolist() == [step == 1 for step in range(rows)]
    np.testing.assert_allclose(controller.matrix()[1], expected_row(1, width))
    share = np.abs(expected_row(1, width)) / np.abs(expected_row(1, width)).sum()
    np.testing.assert_allclose(shown[1], share, rtol=1e-5)  # each token's share of the row
    assert "Step 2: Spearman ρ 0.25" in panel.agreement_label.text()

    explain_and_wait(qtbot, window, WHOLE_OUTPUT)
    assert np.isfinite(panel.text_view.attribution.matrix()).all()
    assert engine.calls[-1] == ("saliency", tuple(s for s in range(rows) if s != 1), None)
    assert f"mean over {rows} of {rows} steps" in panel.agreement_label.text()


def test_explained_steps_are_cached_per_method_and_foil(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    snapshot = decoded(qtbot, window, tiny_translation_checkpoint)
    controller, panel = window.explain_tools.controller, window.explain_tools.panel
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    assert not controller.explain()  # cached: drawn again, nothing asked
    window.select_step(len(snapshot.steps) - 1)  # shown panel, finished decode: explained
    qtbot.waitUntil(lambda: len(engine.calls) == 2, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=TIMEOUT)
    window.select_step(0)
    assert len(engine.calls) == 2  # back to a cached step: no new work
    panel.set_method("ig")
    qtbot.waitUntil(lambda: engine.calls[-1][0] == "ig", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not panel.busy(), timeout=TIMEOUT)
    foil = int(snapshot.steps[0].topk_ids[1])
    panel.set_foil(foil)  # "why this token rather than the foil?"
    qtbot.waitUntil(lambda: engine.calls[-1] == ("ig", (0,), foil), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: np.isfinite(controller.matrix()[0, 0]), timeout=TIMEOUT)
    width = len(snapshot.source_pieces)
    np.testing.assert_allclose(controller.matrix()[0], expected_row(0, width, foil))
    calls = len(engine.calls)
    panel.set_foil(None)
    panel.set_method("saliency")
    assert len(engine.calls) == calls  # both were explained before


def test_cancel_and_escape_stop_the_work_and_keep_what_was_explained(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    decoded(qtbot, window, tiny_translation_checkpoint)
    panel, controller = window.explain_tools.panel, window.explain_tools.controller
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    for stop in (panel.cancel_button.click, lambda: qtbot.keyClick(panel, Qt.Key_Escape)):
        engine.hold, answers = True, controller.answers
        engine.started.clear()
        window.explain_tools.explain(WHOLE_OUTPUT)
        assert panel.busy() and panel.cancel_button.isEnabled()
        assert engine.started.wait(TIMEOUT / 1000)
        stop()
        qtbot.waitUntil(lambda: not panel.busy(), timeout=TIMEOUT)
        assert controller.answers == answers
        assert np.isfinite(controller.matrix()[0]).all()  # the step explained before stays
        assert np.isnan(controller.matrix()[1:]).all()
    engine.hold = False
    explain_and_wait(qtbot, window, WHOLE_OUTPUT)  # the worker is free again
    assert np.isfinite(controller.matrix()).all()


def test_a_new_model_while_attribution_runs_drops_its_answer(
    qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint, monkeypatch
):
    engine = use_fake_engine(monkeypatch)
    decoded(qtbot, window, tiny_translation_checkpoint)
    panel, controller = window.explain_tools.panel, window.explain_tools.controller
    engine.hold = True
    window.explain_tools.explain(WHOLE_OUTPUT)
    assert engine.started.wait(TIMEOUT / 1000)
    snapshot = decoded(qtbot, window, tiny_multihead_checkpoint)  # cancels the attribution
    assert not panel.busy() and controller.answers == 0
    assert controller.cached_steps() == 0 and np.isnan(controller.matrix()).all()
    engine.hold = False
    explain_and_wait(qtbot, window, WHOLE_OUTPUT)
    assert controller.matrix().shape == (len(snapshot.steps), len(snapshot.source_pieces))
    assert panel.text_view.attention.heads().shape[1] == 4  # the new model's heads


def test_a_model_without_attention_still_gets_attribution(
    qtbot, window, tiny_plain_checkpoint, monkeypatch
):
    use_fake_engine(monkeypatch)
    snapshot = decoded(qtbot, window, tiny_plain_checkpoint)
    explain_and_wait(qtbot, window, WHOLE_OUTPUT)
    view = window.explain_tools.panel.text_view
    assert view.attention_pages.currentWidget() is view.no_attention
    assert view.attribution.matrix().shape == (len(snapshot.steps), len(snapshot.source_pieces))
    assert "No attention" in window.explain_tools.panel.agreement_label.text()


def test_attribution_exports_hold_the_explained_matrix(
    qtbot, window, tiny_translation_checkpoint, monkeypatch, tmp_path
):
    use_fake_engine(monkeypatch)
    snapshot = decoded(qtbot, window, tiny_translation_checkpoint)
    exporter = window.explain_tools.exporter
    with pytest.raises(ValueError, match="no step is explained"):
        exporter.attribution_npy(str(tmp_path / "none.npy"))
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    rows, width = len(snapshot.steps), len(snapshot.source_pieces)
    exporter.attribution_npy(str(tmp_path / "a.npy"))
    exporter.attribution_csv(str(tmp_path / "a.csv"))
    saved = np.load(tmp_path / "a.npy")
    assert saved.shape == (rows, width) and saved.dtype == np.float32
    np.testing.assert_allclose(saved[0], expected_row(0, width))
    assert np.isnan(saved[1:]).all()
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == rows + 1 and len(lines[0].split(",")) == width + 1
    assert [float(v) for v in lines[1].split(",")[1:]] == expected_row(0, width).tolist()
    assert lines[2].split(",")[1] == "nan"
    qtbot.waitUntil(lambda: window.explain_tools.panel.isVisible(), timeout=TIMEOUT)
    exporter.figure_png(str(tmp_path / "a.png"))
    exporter.figure_svg(str(tmp_path / "a.svg"))
    from PIL import Image

    view = window.explain_tools.panel.text_view
    assert Image.open(tmp_path / "a.png").size == (2 * view.width(), 2 * view.height())
    assert "<svg" in (tmp_path / "a.svg").read_text(encoding="utf-8")
