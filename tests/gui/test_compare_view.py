"""Compare mode in the main window: two models in lockstep, cross-scores, nothing lost."""

from __future__ import annotations

import math

import pytest
from window_support import SOURCE, TIMEOUT, load

from attnscope.gui.compare_pane import cross_log_probs


def _enter(qtbot, window, partner):
    """Enter compare mode with ``partner`` and wait for both decodes to finish."""
    compare = window.compare
    with qtbot.waitSignal(compare.entered, timeout=TIMEOUT):
        compare.enter(str(partner))
    qtbot.waitUntil(lambda: not compare.view.run_action.isChecked(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: compare.view.pair is not None, timeout=TIMEOUT)
    return compare


def _pair_after(qtbot, compare, action, check):
    with qtbot.waitSignal(compare.pairShown, timeout=TIMEOUT, check_params_cb=check) as blocker:
        action.trigger()
    return blocker.args[0]


@pytest.fixture
def comparing(qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.strategy.setCurrentText("Greedy")
    window.decode_settings.max_length.setValue(8)  # the tiny models never say eos: keep it short
    return _enter(qtbot, window, tiny_multihead_checkpoint)


def test_step_and_back_drive_both_models_and_leaving_loses_nothing(qtbot, window, comparing):
    view, before = comparing.view, window.state.snapshot
    assert window.workspaces.currentWidget() is view
    assert not window.decode_actions.step.isEnabled()  # the view's own keys drive both
    hidden = {name for name, dock in window.docks.items() if dock.isHidden()}
    assert hidden == set(window.docks) - {"decode"}  # the panes get the width, not the settings
    finished = view.pair
    assert finished.a.done and finished.b.done
    _pair_after(qtbot, comparing, view.reset_action, lambda p: not p.a.steps)
    first = _pair_after(qtbot, comparing, view.step_action, lambda p: len(p.a.steps) == 1)
    assert len(first.b.steps) == 1
    second = _pair_after(qtbot, comparing, view.step_action, lambda p: len(p.a.steps) == 2)
    assert len(second.b.steps) == 2
    back = _pair_after(qtbot, comparing, view.back_action, lambda p: len(p.a.steps) == 1)
    assert len(back.b.steps) == 1
    # Back gives each side its first step back exactly; the decodes match the finished ones
    for side, done in ((back.a, finished.a), (back.b, finished.b)):
        assert side.steps[0].token_id == done.steps[0].token_id
    pane_a, pane_b = view.panes
    assert len(pane_a.chips.chips) == 1 and len(pane_b.chips.chips) == 1
    # leaving returns to the single view as it was, and the window's decode still answers
    comparing.leave()
    assert window.workspaces.currentWidget() is window.translate_view
    assert window.state.snapshot is before
    assert window.decode_actions.step.isEnabled()
    assert not any(dock.isHidden() for dock in window.docks.values())  # the layout is back
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT):
        window.reset()


def test_finished_pair_has_cross_scores_on_the_chips_and_a_comparison(
    qtbot, window, comparing, tiny_translation_checkpoint
):
    pair = comparing.view.pair
    report = pair.a_by_b  # model B scoring A's output
    assert report is not None and pair.b_by_a is not None
    pane = comparing.view.panes[0]
    values = cross_log_probs(pair.a, report)
    shown = [(i, v) for i, v in enumerate(values) if v is not None]
    assert shown, "the cross-scores line up with A's chips"
    index, value = shown[0]
    assert f"model B: log p = {value:.2f}" in pane.chips.chips[index].toolTip()
    assert math.isclose(sum(report.token_log_probs), report.log_prob)
    assert pair.attention is not None  # both tiny models have attention
    shown_map = comparing.view.difference.values()
    assert shown_map.shape == pair.attention.difference.shape
    # an edited source is a new pair: Step decodes the new text with both models
    view = comparing.view
    view.set_source_text("zwei hunde spielen .")
    edited = _pair_after(qtbot, comparing, view.step_action, lambda p: len(p.a.steps) == 1)
    assert len(edited.b.steps) == 1
    assert edited.a.source_text == edited.b.source_text == "zwei hunde spielen ."
    # opening a checkpoint shows its workspace: compare mode ends and hands the keys back
    with qtbot.waitSignal(comparing.left, timeout=TIMEOUT):
        load(qtbot, window, tiny_translation_checkpoint)
    assert window.workspaces.currentWidget() is window.translate_view
    assert window.decode_actions.step.isEnabled() and comparing.action.isEnabled()
    assert not any(dock.isHidden() for dock in window.docks.values())


def test_a_checkpoint_of_another_task_is_refused_and_the_first_model_keeps_working(
    qtbot, window, tiny_translation_checkpoint, captioner
):
    load(qtbot, window, tiny_translation_checkpoint)
    shown = window.workspaces.currentWidget()
    messages = []
    window.message_bar.show_message = lambda text, level="error", **_: messages.append(text)
    window.compare.enter(str(captioner))
    qtbot.waitUntil(lambda: bool(messages), timeout=TIMEOUT)
    assert "Cannot compare" in messages[-1] and "captioning" in messages[-1]
    assert window.workspaces.currentWidget() is shown
    assert window.decode_actions.step.isEnabled()
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT):
        window.reset()


def _snapshot(pieces, log_probs):
    """The two fields cross_log_probs reads of a SessionSnapshot."""
    from types import SimpleNamespace

    steps = tuple(SimpleNamespace(log_prob=v) for v in log_probs)
    return SimpleNamespace(target_pieces=tuple(pieces), steps=steps)


def _report(pieces, log_probs):
    from types import SimpleNamespace

    return SimpleNamespace(pieces=tuple(pieces), token_log_probs=tuple(log_probs))


def test_cross_scores_line_up_by_token_by_word_or_not_at_all():
    own = _snapshot(["▁a", "▁dog", "gy", "</s>"], [-0.1, -0.2, -0.3, -0.4])
    same = _report(["▁a", "▁dog", "gy", "</s>"], [-1.0, -2.0, -3.0, -4.0])
    assert cross_log_probs(own, same) == [-1.0, -2.0, -3.0, -4.0]
    # another tokenizer: "doggy" in one piece; its word's log-prob sits on the word's first chip
    other = _report(["▁a", "▁doggy", "</s>"], [-1.0, -2.5, -4.0])
    assert cross_log_probs(own, other) == pytest.approx([-1.0, -2.5, None, -4.0])
    different = _report(["▁the", "▁cat", "</s>"], [-1.0, -2.0, -4.0])
    assert cross_log_probs(own, different) == [None, None, None, -4.0]  # only eos lines up
    assert cross_log_probs(own, None) == [None] * 4


def test_the_compare_and_run_views_are_built_only_when_their_mode_is_entered(
    qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint
):
    """Most windows never compare: the two views (plots, a tenth of a second or more of
    the start-up) are built on entry, and the window is the same until then."""
    stack_before = window.workspaces.count()
    assert window.compare._view is None and window.epochs._view is None
    assert not window.compare.active and not window.epochs.active
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.strategy.setCurrentText("Greedy")
    window.decode_settings.max_length.setValue(8)
    assert window.compare._view is None  # a load and a decode do not build it
    compare = _enter(qtbot, window, tiny_multihead_checkpoint)
    assert window.workspaces.count() == stack_before + 1
    assert window.workspaces.currentWidget() is compare.view and compare.view.isEnabled()
    assert window.epochs._view is None  # the other mode's view still waits
    compare.leave()
    assert window.workspaces.currentWidget() is window.translate_view
    assert not compare.view.isEnabled()  # its keys are off again
