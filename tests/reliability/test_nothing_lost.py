"""Nothing lost: the source, the last decode and the settings survive a restart (and a
crash of the process), and a failure inside the worker is a message, not the end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import QSettings
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.inference import load_inference_model
from attnscope.gui.app import create_window
from attnscope.gui.autosave import AUTOSAVE_FILE, SavedSession


def decode_a_few_steps(qtbot, window, checkpoint) -> None:
    """Step 3 times, force the runner-up at step 2 (which runs to the end), step back once."""
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    for expected in (1, 2, 3):
        wait_snapshot(qtbot, window, window.step, lambda s, n=expected: len(s.steps) == n)
    window.select_step(1)
    alternative = int(window.state.snapshot.steps[1].topk_ids[1])
    wait_snapshot(qtbot, window, lambda: window.force_token(alternative), lambda s: s.done)
    length = len(window.state.snapshot.steps)
    wait_snapshot(qtbot, window, window.back, lambda s: len(s.steps) == length - 1)


def same_decode(restored, original) -> None:
    assert restored.source_text == original.source_text
    assert [s.token_id for s in restored.steps] == [s.token_id for s in original.steps]
    assert [s.forced for s in restored.steps] == [s.forced for s in original.steps]
    np.testing.assert_allclose(restored.attention, original.attention, atol=1e-6)


def test_source_settings_and_the_last_decode_survive_a_restart(
    qtbot, make_window, settings_path, tiny_translation_checkpoint
):
    first = make_window()
    first.decode_settings.set_values({"max_length": 37, "beam_size": 3})
    decode_a_few_steps(qtbot, first, tiny_translation_checkpoint)
    before = first.state.snapshot
    assert any(s.forced for s in before.steps)
    first.close()

    settings = QSettings(str(settings_path), QSettings.IniFormat)
    second = create_window(None, device="cpu", settings=settings)  # no checkpoint named
    qtbot.addWidget(second)
    try:
        assert second.translate_view.source() == SOURCE  # before any model is back
        # the last checkpoint reopens by itself and the decode is retaken
        qtbot.waitSignal(second.snapshotShown, timeout=TIMEOUT).wait()
        assert second.state.summary.path == str(tiny_translation_checkpoint)
        same_decode(second.state.snapshot, before)
        assert second.decode_settings.values()["max_length"] == 37
        assert second.decode_settings.values()["beam_size"] == 3
        # and the restored session goes on like any other
        wait_snapshot(qtbot, second, second.step, lambda s: len(s.steps) == len(before.steps) + 1)
    finally:
        second.client.shutdown()


def test_the_session_is_saved_as_it_changes_so_a_crash_loses_nothing(
    qtbot, make_window, tiny_translation_checkpoint
):
    crashed = make_window()
    load(qtbot, crashed, tiny_translation_checkpoint)
    crashed.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, crashed, crashed.step, lambda s: len(s.steps) == 1)
    with qtbot.waitSignal(crashed.autosave.saved, timeout=TIMEOUT):
        crashed.step()  # written a moment after the step is shown, without any close
    before = crashed.state.snapshot
    assert len(before.steps) == 2
    # the process "dies" here: no closeEvent; a new window starts from the files alone
    restarted = make_window()
    assert restarted.translate_view.source() == SOURCE
    with qtbot.waitSignal(restarted.autosave.restored, timeout=TIMEOUT):
        load(qtbot, restarted, tiny_translation_checkpoint)
    qtbot.waitUntil(lambda: restarted.state.snapshot is not None, timeout=TIMEOUT)
    same_decode(restarted.state.snapshot, before)


def test_a_damaged_session_file_is_ignored_and_replaced(
    qtbot, make_window, settings_path, tiny_translation_checkpoint
):
    saved = settings_path.parent / AUTOSAVE_FILE
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text('{"version": 1, "checkpoint": 5, "plan": "oops"', encoding="utf-8")
    window = make_window()
    assert window.autosave.pending is None
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    with qtbot.waitSignal(window.autosave.saved, timeout=TIMEOUT):
        window.step()
    session = SavedSession.from_json(saved.read_text(encoding="utf-8"))
    assert session.source == SOURCE and session.plan == (None,)
    assert json.loads(saved.read_text(encoding="utf-8"))["version"] == 1


def break_the_model_step_once(monkeypatch, checkpoint, error: Exception) -> None:
    """The next call of the model's step raises ``error``; later calls work again."""
    model_class = type(load_inference_model(checkpoint, device="cpu").model)
    original = model_class.step
    calls = []

    def step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model_class, "step", step)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (RuntimeError("shape mismatch in the decoder"), "Unexpected error (RuntimeError)"),
        (
            torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "Out of memory while running the model",
        ),
    ],
)
def test_a_failing_step_is_a_message_and_the_next_step_works(
    qtbot, window, tiny_translation_checkpoint, monkeypatch, error, message
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    break_the_model_step_once(monkeypatch, tiny_translation_checkpoint, error)
    window.step()
    qtbot.waitUntil(lambda: message in window.message_bar.text(), timeout=TIMEOUT)
    assert window.message_bar.level == "error"
    assert len(window.state.snapshot.steps) == 1  # nothing half-done is shown
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 2)


def test_a_failure_during_run_stops_it_and_run_works_again(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    break_the_model_step_once(
        monkeypatch, tiny_translation_checkpoint, torch.OutOfMemoryError("CUDA out of memory")
    )
    window.decode_actions.run.setChecked(True)
    window.toggle_run()
    qtbot.waitUntil(lambda: "Out of memory" in window.message_bar.text(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not window.decode_actions.run.isChecked(), timeout=TIMEOUT)
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert len(snapshot.steps) > 1


def test_a_captioned_picture_and_its_decode_survive_a_restart(qtbot, make_window, tmp_path):
    from fuzz_inputs import write_tiny_captioner
    from PIL import Image

    captioner = write_tiny_captioner(tmp_path / "models")
    picture = tmp_path / "red.png"
    Image.new("RGB", (40, 24), (200, 30, 30)).save(picture)
    first = make_window()
    load(qtbot, first, captioner)
    wait_snapshot(
        qtbot,
        first,
        lambda: first.captioning.open_path(str(picture)),
        lambda s: s.source_text == str(picture),
    )
    for expected in (1, 2):
        wait_snapshot(qtbot, first, first.step, lambda s, n=expected: len(s.steps) == n)
    before = first.state.snapshot
    first.close()

    second = make_window()
    wanted = lambda s: s.source_text == str(picture) and len(s.steps) == 2  # noqa: E731
    wait_snapshot(qtbot, second, lambda: second.load_checkpoint(str(captioner)), wanted)
    assert [s.token_id for s in second.state.snapshot.steps] == [s.token_id for s in before.steps]
    np.testing.assert_allclose(second.state.snapshot.attention, before.attention, atol=1e-6)
    assert second.caption_view.image_source() == str(picture)
    wait_snapshot(qtbot, second, second.step, lambda s: len(s.steps) == 3)
