"""The text what-if: editing an attention row, applying it, the diff, Show original, Undo;
and the raw-score heat map."""

import html

import numpy as np
import pytest
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.gui.attention_edit import SLIDER_STEPS, AttentionRowEditor
from attnscope.gui.heatmap import SCORES, WEIGHTS

TOKENS = ["▁the", "▁cat", "▁sat", "</s>"]
ROW = np.array([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]], np.float32)  # (heads, S)


@pytest.fixture
def editor(qtbot):
    view = AttentionRowEditor()
    qtbot.addWidget(view)
    view.set_row(2, ROW, TOKENS)
    return view


def test_a_reset_keeps_the_columns_greyed_and_empty_for_its_first_step(editor):
    # a Reset shows no row; its first step must not build or show every column again
    # (issue 22): the source's columns stay, disabled, with no value
    first = list(editor.sliders)
    editor.set_row(None, None, TOKENS)
    assert editor.sliders == [] and editor.step() is None
    assert all(not s.isHidden() and not s.parentWidget().isHidden() for s in first)
    assert all(not s.isEnabled() and s.value() == 0 for s in first)
    assert all(value.text() == "" for _, _, value, _ in editor._pool)
    editor.set_row(2, ROW, TOKENS)
    assert editor.sliders == first and all(s.isEnabled() for s in first)
    assert [s.value() for s in first] == [250, 250, 250, 250]


def test_columns_are_kept_hidden_when_no_row_is_shown_and_reused_for_the_next(editor):
    # no source at all (a new model): no column; the next row reuses the built ones
    first = list(editor.sliders)
    editor.set_row(None, None, [])
    assert editor.sliders == [] and all(s.isHidden() or s.parentWidget().isHidden() for s in first)
    editor.set_row(0, ROW[:, :3] / ROW[:, :3].sum(-1, keepdims=True), ["▁a", "▁b", "</s>"])
    assert editor.sliders == first[:3]  # the same widgets, one column hidden
    assert first[3].parentWidget().isHidden() and not first[0].parentWidget().isHidden()
    assert [label.text() for label in editor._labels] == ["▁a", "▁b", "</s>"]
    assert "'▁b'" in editor.sliders[1].toolTip()  # the tip names the new token
    editor.set_row(1, ROW, TOKENS)
    assert editor.sliders == first and [s.value() for s in first] == [250, 250, 250, 250]


def test_the_sliders_show_the_head_mean(editor):
    assert len(editor.sliders) == 4
    assert [s.value() for s in editor.sliders] == [250, 250, 250, 250]
    assert not editor.is_edited() and not editor.apply_button.isEnabled()


def test_pin_zero_and_drag_give_the_rows_of_the_engine_edits(editor):
    editor.pin(1)
    np.testing.assert_array_equal(editor.row(), [[0, 1, 0, 0], [0, 1, 0, 0]])
    assert editor.is_edited() and editor.apply_button.isEnabled()
    editor.reset_row()
    editor.zero(3)
    np.testing.assert_allclose(editor.row(), [[1 / 6, 2 / 6, 3 / 6, 0], [4 / 9, 3 / 9, 2 / 9, 0]])
    editor.reset_row()
    editor.sliders[0].setValue(600)  # a drag ends with the slider's release
    editor.sliders[0].sliderReleased.emit()
    row = editor.row()
    np.testing.assert_allclose(row[:, 0], [0.6, 0.6], rtol=1e-6)
    np.testing.assert_allclose(row.sum(axis=1), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(row[0, 1:] / row[0, 1:].sum(), [2 / 9, 3 / 9, 4 / 9], rtol=1e-5)
    assert editor.sliders[0].value() == 0.6 * SLIDER_STEPS


def test_zeroing_the_only_attended_token_is_refused(editor):
    editor.pin(2)
    with pytest.raises(ValueError, match="would leave no attention"):
        editor.zero(2)
    np.testing.assert_array_equal(editor.row()[:, 2], [1, 1])  # unchanged


def test_apply_sends_the_step_and_the_edited_row(qtbot, editor):
    editor.pin(0)
    with qtbot.waitSignal(editor.applyRequested) as blocker:
        editor.apply_button.click()
    step, weights = blocker.args
    assert step == 2
    np.testing.assert_array_equal(weights, [[1, 0, 0, 0], [1, 0, 0, 0]])


def _engine_what_if(checkpoint, step, weights):
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(SOURCE, DecodeConfig())
    opened.run()
    original = opened.session.tokens
    opened.edit_attention(step, weights)
    opened.run()
    return original, opened.session.tokens


def _run_to_end(qtbot, window):
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)


def test_pin_apply_continues_with_the_edit_shows_the_diff_and_undo_restores(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    original = _run_to_end(qtbot, window)
    what_if = window.debugger.what_if
    step, col = 1, 0
    menu = what_if.menu_for(step, col)
    assert window.state.selected_step == step
    texts = [a.text() for a in menu.actions()]
    assert any(t.startswith("Pin all attention here") for t in texts)
    assert any("and renormalise" in t for t in texts)
    assert any("scores" in t for t in texts)
    next(a for a in menu.actions() if a.text().startswith("Pin")).trigger()
    pinned = what_if.editor.row()
    assert pinned[:, col].tolist() == [1.0] * pinned.shape[0]
    with qtbot.waitSignal(window.state.whatIfChanged, timeout=TIMEOUT):
        what_if.apply_action.trigger()
    qtbot.waitUntil(
        lambda: (
            window.state.snapshot.done
            and window.state.what_if is not None
            and window.state.what_if.diff is not None
        ),
        timeout=TIMEOUT,
    )
    edited = window.state.snapshot
    engine_original, engine_edited = _engine_what_if(tiny_translation_checkpoint, step, pinned)
    assert [s.token_id for s in original.steps] == list(engine_original)
    assert [s.token_id for s in edited.steps] == list(engine_edited)
    np.testing.assert_array_equal(edited.attention[step], pinned)  # the step attended as edited
    diff = window.state.what_if.diff
    label = what_if.editor.diff_label.text()
    assert f"What-if at step {step + 1}" in label and html.escape(diff.describe()) in label
    assert what_if.editor.undo_button.isVisibleTo(what_if.editor)
    # Show original paints the original decode's chips, and back
    view = window.translate_view
    what_if.editor.original_button.setChecked(True)
    assert len(view.chips.chips) == len(original.steps)
    what_if.editor.original_button.setChecked(False)
    assert len(view.chips.chips) == len(edited.steps)
    # Undo restores the original decode exactly
    snapshot = wait_snapshot(qtbot, window, what_if.undo_action.trigger, lambda s: s.done)
    assert [s.token_id for s in snapshot.steps] == list(engine_original)
    assert window.state.what_if is None


def test_a_changed_word_is_highlighted(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    original = _run_to_end(qtbot, window)
    what_if = window.debugger.what_if
    length = original.attention.shape[2]
    # pin each source position at step 0 until one changes the output
    for col in range(length):
        window.select_step(0)
        what_if.editor.pin(col)
        what_if.apply()
        qtbot.waitUntil(
            lambda: (
                window.state.what_if is not None
                and window.state.what_if.diff is not None
                and window.state.snapshot.done
            ),
            timeout=TIMEOUT,
        )
        if window.state.what_if.diff.changed:
            break
        wait_snapshot(qtbot, window, what_if.undo, lambda s: s.done)
    diff = window.state.what_if.diff
    assert diff.changed, "no pinned position changed the tiny model's output"
    changed_steps = {
        s for w, on in zip(diff.after, diff.changed_after(), strict=True) if on for s in w.steps
    }
    qtbot.waitUntil(
        lambda: len(window.translate_view.chips.chips) == len(window.state.snapshot.steps)
    )
    styled = {i for i, c in enumerate(window.translate_view.chips.chips) if c.styleSheet()}
    assert styled == changed_steps


def test_the_score_toggle_shows_scores_then_weights(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    snapshot = _run_to_end(qtbot, window)
    heatmap = window.translate_view.heatmap
    weights = heatmap.matrix()
    with qtbot.waitSignal(window.client.worker.scoresReady, timeout=TIMEOUT) as blocker:
        window.debugger.scores_action.trigger()
    tokens, scores = blocker.args[0]
    assert tokens == tuple(s.token_id for s in snapshot.steps)
    assert heatmap.value_kind() == SCORES
    qtbot.waitUntil(lambda: np.isfinite(heatmap.matrix()).all())
    np.testing.assert_allclose(heatmap.matrix(), scores.mean(axis=1), rtol=1e-6)
    # softmax of the scores gives the weights shown before
    soft = np.exp(scores - scores.max(axis=-1, keepdims=True))
    np.testing.assert_allclose((soft / soft.sum(-1, keepdims=True))[:, 0], weights, atol=1e-5)
    assert heatmap.levels() != (0.0, 1.0)
    assert heatmap._bar.axis.labelText == "score"
    window.debugger.scores_action.trigger()
    assert heatmap.value_kind() == WEIGHTS and heatmap.levels() == (0.0, 1.0)
    np.testing.assert_array_equal(heatmap.matrix(), weights)


def test_the_next_step_moves_only_what_changed_and_shows_the_new_row(editor):
    # the columns stay and only changed sliders are set (issue 22); what shows is the new row
    first = list(editor.sliders)
    texts = [value.text() for value in editor._values]
    assert texts == ["0.25"] * 4
    row = np.array([[0.25, 0.25, 0.5, 0.0], [0.25, 0.25, 0.3, 0.2]], np.float32)
    editor.set_row(3, row, TOKENS)
    assert editor.sliders == first
    assert [s.value() for s in first] == [250, 250, 400, 100]
    assert [value.text() for value in editor._values] == ["0.25", "0.25", "0.40", "0.10"]
    first[2].setValue(50)  # a drag: released, the slider shows the edited row again
    first[2].sliderReleased.emit()
    assert first[2].value() == 50 and editor.is_edited()
