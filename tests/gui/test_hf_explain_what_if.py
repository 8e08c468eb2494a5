"""Explain and the attention what-if on a Hugging Face folder in the real window, with the
real attribution engine: the panel shows a step's attribution, and a pinned edit
applies to every layer and head and continues the decode."""

import numpy as np
import pytest
from explain_support import explain_and_wait
from PySide6.QtWidgets import QFileDialog
from window_support import TIMEOUT, load, wait_snapshot

from attnscope.gui.explain_panel import SELECTED_STEP
from attnscope.gui.heatmap import SCORES
from tests.engine.hf.tiny_models import save_tiny_model

SOURCE = "the cat sat on the mat"


@pytest.fixture(scope="module")
def marian_folder(tmp_path_factory):
    # seed and eos bias of tests/engine/hf/conftest.py: outputs of a few tokens
    folder = tmp_path_factory.mktemp("hf") / "tiny-marian"
    return save_tiny_model(folder, "marian", seed=3, eos_bias=2.0)


def _decoded(qtbot, window, folder):
    load(qtbot, window, folder)
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(
        qtbot, window, window.toggle_run, lambda s: s.done and s.source_text == SOURCE
    )


def test_explain_and_a_pinned_edit_on_a_folder(qtbot, window, marian_folder):
    snapshot = _decoded(qtbot, window, marian_folder)
    qtbot.waitUntil(lambda: not window.decode_actions.run.isChecked(), timeout=TIMEOUT)
    rows, width = len(snapshot.steps), len(snapshot.source_pieces)
    window.select_step(0)
    explain_and_wait(qtbot, window, SELECTED_STEP)
    panel = window.explain_tools.panel
    shown = panel.text_view.attribution.matrix()
    assert shown.shape == (rows, width)
    assert np.isfinite(shown[0]).all() and not np.isfinite(shown[1:]).any()
    assert "Step 1: Spearman ρ" in panel.agreement_label.text()

    what_if, step, col = window.debugger.what_if, 0, 2
    menu = what_if.menu_for(step, col)
    next(a for a in menu.actions() if a.text().startswith("Pin")).trigger()
    pinned = what_if.editor.row()  # (layers · heads, S): every layer and head
    assert pinned.shape == snapshot.attention[step].shape
    assert pinned[:, col].tolist() == [1.0] * pinned.shape[0]
    with qtbot.waitSignal(window.state.whatIfChanged, timeout=TIMEOUT):
        what_if.apply_action.trigger()
    qtbot.waitUntil(
        lambda: window.state.snapshot.done and window.state.what_if is not None,
        timeout=TIMEOUT,
    )
    np.testing.assert_array_equal(window.state.snapshot.attention[step], pinned)


def test_raw_scores_on_a_folder(qtbot, window, marian_folder):
    snapshot = _decoded(qtbot, window, marian_folder)
    heatmap = window.translate_view.heatmap
    with qtbot.waitSignal(window.client.worker.scoresReady, timeout=TIMEOUT) as blocker:
        window.debugger.scores_action.trigger()
    tokens, scores = blocker.args[0]  # (T, layers · heads, S)
    assert tokens == tuple(s.token_id for s in snapshot.steps)
    assert heatmap.value_kind() == SCORES
    qtbot.waitUntil(lambda: np.isfinite(heatmap.matrix()).all())
    np.testing.assert_allclose(heatmap.matrix(), scores.mean(axis=1), rtol=1e-5)
    soft = np.exp(scores - scores.max(axis=-1, keepdims=True))
    soft /= soft.sum(-1, keepdims=True)
    np.testing.assert_allclose(soft, snapshot.attention, atol=1e-5)


def test_compare_with_folder_pairs_two_folders(qtbot, window, marian_folder, tmp_path, monkeypatch):
    other = save_tiny_model(tmp_path / "other-marian", "marian", seed=5, eos_bias=2.0)
    _decoded(qtbot, window, marian_folder)
    compare = window.compare
    menus = [action.menu() for action in window.menuBar().actions() if action.menu()]
    assert any(compare.folder_action in menu.actions() for menu in menus)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(other))
    with qtbot.waitSignal(compare.entered, timeout=TIMEOUT):
        compare.folder_action.trigger()
    qtbot.waitUntil(lambda: compare.view.pair is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not compare.view.run_action.isChecked(), timeout=TIMEOUT)
    pair = compare.view.pair
    assert pair.a.num_heads == pair.b.num_heads == 4  # 2 layers x 2 heads each
    assert not compare.folder_action.isEnabled()
    compare.leave()
    assert compare.folder_action.isEnabled()
