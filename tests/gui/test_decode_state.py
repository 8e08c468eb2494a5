"""DecodeState and the views that subscribe to it, napari style: build the state, wrap
it in the view, change the state, check the view. No window, worker or checkpoint."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QMenu

from attnscope.engine.inference_results import SessionSnapshot, TokenStep
from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_state import DecodeState, SessionKey
from attnscope.gui.device_menu import DeviceChoice, DeviceMenu
from attnscope.gui.frame_scheduler import FrameScheduler
from attnscope.gui.panels import AnalysisDocks
from attnscope.gui.snapshot_painter import SnapshotPainter
from attnscope.gui.translate_view import TranslateWorkspace

SOURCE_PIECES = ("▁ein", "▁hund", "</s>")


def summary(task="translation", devices=("cpu",), vocab=("", "▁a", "▁dog")):
    return SimpleNamespace(
        task=task, path=f"{task}.safetensors", devices=devices, target_vocab=vocab
    )


def snapshot(n_steps: int) -> SessionSnapshot:
    """A translation of ``n_steps`` tokens with attention (T, 1, S), made by hand."""
    steps = tuple(
        TokenStep(
            token_id=4 + i,
            piece=f"▁w{i}",
            log_prob=-0.5,
            topk_ids=np.array([4 + i, 9]),
            topk_probs=np.array([0.6, 0.3], dtype=np.float32),
            topk_pieces=(f"▁w{i}", "▁x"),
            forced=False,
        )
        for i in range(n_steps)
    )
    attention = np.full((n_steps, 1, len(SOURCE_PIECES)), 1 / 3, dtype=np.float32)
    return SessionSnapshot(
        source_text="ein hund",
        source_pieces=SOURCE_PIECES,
        target_pieces=tuple(step.piece for step in steps),
        target_text=" ".join(f"w{i}" for i in range(n_steps)),
        steps=steps,
        attention=attention,
        num_heads=1,
        done=False,
        strategy="greedy",
    )


@pytest.fixture
def state(qapp):
    return DecodeState()


def test_setting_a_value_emits_only_when_it_changed(qtbot, state):
    first = summary()
    with qtbot.waitSignal(state.summaryChanged) as changed:
        state.set_summary(first)
    assert changed.args == [first] and state.task == "translation"
    with qtbot.assertNotEmitted(state.summaryChanged):
        state.set_summary(first)
    with qtbot.waitSignal(state.selectedStepChanged):
        state.set_selected_step(2)
    with qtbot.assertNotEmitted(state.selectedStepChanged):
        state.set_selected_step(2)
    key = SessionKey("ein hund", None)
    with qtbot.waitSignal(state.sessionKeyChanged):
        state.set_session_key(key)
    with qtbot.assertNotEmitted(state.sessionKeyChanged):
        state.set_session_key(SessionKey("ein hund", None))  # equal: no change
    assert state.reference is None
    with qtbot.waitSignal(state.reportChanged):
        state.set_report("a report")
    with qtbot.assertNotEmitted(state.reportChanged):
        state.set_report("a report")


def test_the_shown_step_is_the_choice_else_the_newest(state):
    assert state.shown_step() is None
    state.set_snapshot(snapshot(3))
    assert state.shown_step() == 2
    state.set_selected_step(0)
    assert state.shown_step() == 0
    state.set_selected_step(None)
    assert state.shown_step() == 2


def test_the_device_menu_follows_the_loaded_model(qtbot, state, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    reloaded = []
    view_menu = QMenu()
    menu = DeviceMenu(state, DeviceChoice(settings, "cpu"), view_menu, reload=reloaded.append)
    assert menu.menu.actions() == []
    state.set_summary(summary(devices=("cpu", "cuda:0")))
    assert [a.data() for a in menu.group.actions()] == ["auto", "cpu", "cuda:0"]
    assert [a.data() for a in menu.group.actions() if a.isChecked()] == ["cpu"]
    menu.group.actions()[2].trigger()
    assert reloaded == ["translation.safetensors"]
    assert settings.value("model/device") == "cuda:0"
    state.set_summary(summary(task="captioning", devices=()))
    assert [a.data() for a in menu.group.actions()] == ["auto"]


def test_the_analysis_docks_take_a_new_models_vocabulary_and_drop_old_candidates(qtbot, state):
    frames = FrameScheduler(gap_s=0.0)
    docks = AnalysisDocks(state, frames=frames, translate_view=TranslateWorkspace())
    qtbot.addWidget(docks.candidates)
    qtbot.addWidget(docks.beam_tree)
    shown = snapshot(2)
    state.set_snapshot(shown)
    docks.show_snapshot(shown, 1)
    qtbot.waitUntil(lambda: len(docks.candidates.candidates()) == 2)
    state.set_summary(summary(vocab=("", "▁a", "▁cat")))
    assert docks.candidates.candidates() == ()
    assert docks.candidates._completer_model.stringList() == ["▁a", "▁cat"]


def test_the_painter_draws_each_new_snapshot_and_a_picked_step(qtbot, state):
    translate_view = TranslateWorkspace()
    qtbot.addWidget(translate_view)
    frames = FrameScheduler(gap_s=0.0)
    docks = AnalysisDocks(state, frames=frames, translate_view=translate_view)
    painter = SnapshotPainter(
        state,
        frames=frames,
        translate_view=translate_view,
        caption_view=CaptionWorkspace(),
        analysis=docks,
        speed_label=QLabel(),
    )
    state.set_summary(summary())
    assert painter.active_view() is translate_view
    with qtbot.waitSignal(painter.shown) as drawn:
        state.set_snapshot(snapshot(2))
    assert drawn.args[0] is state.snapshot
    assert translate_view.heatmap.matrix().shape == (2, len(SOURCE_PIECES))
    with qtbot.waitSignal(painter.shown):
        state.set_snapshot(snapshot(3))
    assert translate_view.heatmap.matrix().shape == (3, len(SOURCE_PIECES))
    painter.select_step(0)
    assert state.selected_step == 0
    assert translate_view.heatmap.selected_row() == 0
    painter.select_step(7)  # no such step: ignored
    assert state.selected_step == 0
    state.set_summary(summary(task="captioning"))
    assert painter.active_view() is painter.caption_view
