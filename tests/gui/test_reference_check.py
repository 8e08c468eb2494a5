"""Decode > Check a reference: the window shows the forced reference and keeps the report up."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from PySide6.QtWidgets import QInputDialog
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.gui.reference_check import DIALOG_WIDTH, PROMPTS

REFERENCE = "two dogs play in the snow ."


def _check(qtbot, window, reference):
    """Check ``reference`` and wait for both the finished snapshot and the report."""
    with qtbot.waitSignal(window.client.worker.referenceChecked, timeout=TIMEOUT):
        snapshot = wait_snapshot(
            qtbot, window, lambda: window.reference_check.check(reference), lambda s: s.done
        )
    qtbot.waitUntil(lambda: window.reference_check.report is not None, timeout=TIMEOUT)
    return snapshot


def test_the_menu_action_forces_the_reference_and_reports(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    shown = []

    def answer(dialog):  # the user types the reference and presses OK
        shown.append((dialog.labelText(), dialog.width()))
        dialog.setTextValue(REFERENCE)
        return QInputDialog.Accepted

    monkeypatch.setattr(QInputDialog, "exec", answer)
    with qtbot.waitSignal(window.client.worker.referenceChecked, timeout=TIMEOUT):
        window.reference_check.action.trigger()
    qtbot.waitUntil(
        lambda: window.state.snapshot is not None and window.state.snapshot.done, timeout=TIMEOUT
    )
    qtbot.waitUntil(lambda: window.reference_check.report is not None, timeout=TIMEOUT)
    report = window.reference_check.report
    assert window.state.snapshot.target_pieces == report.pieces
    assert all(step.forced for step in window.state.snapshot.steps)
    assert window.message_bar.text() == report.describe()
    assert window.reference_check.last_reference == REFERENCE
    assert shown == [(PROMPTS["translation"], DIALOG_WIDTH)]
    assert window.reference_check.action.shortcut().toString() == "Ctrl+Shift+E"
    # every chip is marked forced; a step where the model would have chosen otherwise says so
    qtbot.waitUntil(lambda: len(window.translate_view.chips.chips) == len(report.pieces))
    chips = window.translate_view.chips.chips
    assert all(chip.property("forced") == "true" for chip in chips)
    for step in report.disagreements:
        assert f"the model's first choice: {step.model!r}" in chips[step.step].toolTip()
    agreed = set(range(len(chips))) - {d.step for d in report.disagreements}
    assert all("first choice" not in chips[i].toolTip() for i in agreed)


def test_the_report_stays_until_dismissed_is_exported_and_a_step_starts_afresh(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    _check(qtbot, window, REFERENCE)
    assert not window.message_bar._timer.isActive()  # kept: the user reads it at leisure
    window.exporter.decode_json(str(tmp_path / "check.json"))
    exported = json.loads((tmp_path / "check.json").read_text(encoding="utf-8"))
    report = window.reference_check.report
    assert exported["reference_check"]["reference"] == REFERENCE
    assert exported["reference_check"]["log_prob"] == pytest.approx(report.log_prob, abs=1e-5)
    assert len(exported["reference_check"]["disagreements"]) == len(report.disagreements)
    # the comparison decode ran with the panel's settings, and the export says so
    assert exported["settings"] == asdict(window.decode_config())
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert not snapshot.steps[0].forced  # a fresh session with the panel's settings


def test_forcing_the_models_choice_at_a_step_lets_it_continue(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    first = _check(qtbot, window, REFERENCE)
    window.select_step(1)
    alternative = int(first.steps[1].topk_ids[1])
    snapshot = wait_snapshot(
        qtbot, window, lambda: window.force_token(alternative), lambda s: s.done
    )
    assert snapshot.steps[0].token_id == first.steps[0].token_id  # the reference's start
    assert snapshot.steps[1].token_id == alternative and snapshot.steps[1].forced
    assert not any(step.forced for step in snapshot.steps[2:])  # the model's own words


def test_an_empty_reference_or_no_model_gets_a_message_and_sends_nothing(
    qtbot, window, tiny_translation_checkpoint
):
    assert not window.reference_check.check(REFERENCE)
    assert "No checkpoint is loaded" in window.message_bar.text()
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    key, snapshot = window.requests.key, window.state.snapshot  # the decode made on load
    assert not window.reference_check.check("   ")
    assert "Type the translation or caption you expected" in window.message_bar.text()
    assert window.requests.key is key and window.state.snapshot is snapshot


def test_an_overlong_reference_is_refused_by_the_worker_and_the_app_goes_on(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT):
        assert window.reference_check.check("the dog runs . " * 400)
    qtbot.waitUntil(lambda: "tokens long" in window.message_bar.text(), timeout=TIMEOUT)
    assert window.requests.key is None  # the next request opens a session again
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.source_text == SOURCE


def test_a_chip_note_says_forced_and_names_a_different_first_choice():
    import numpy as np

    from attnscope.engine.inference_results import TokenStep
    from attnscope.gui.token_chips import step_note

    def step(token_id, forced):
        return TokenStep(
            token_id=token_id,
            piece="▁b",
            log_prob=-1.0,
            topk_ids=np.array([7, token_id]),
            topk_probs=np.array([0.6, 0.3], dtype=np.float32),
            topk_pieces=("▁a", "▁b"),
            forced=forced,
        )

    assert step_note(step(9, forced=True)) == "forced · the model's first choice: '▁a' p = 0.600"
    assert step_note(step(7, forced=False)) == ""
