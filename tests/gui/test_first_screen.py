"""The first screen after a load shows a decode: the example is decoded to the end with the
model's recommended settings, without Step or Run; a restored session and the user's own
text win; Step then starts over from the first token."""

import json

from PySide6.QtCore import QSettings
from test_recommended_decoding import _with_recommendation
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.checkpoint import load_checkpoint
from attnscope.gui.autosave import AUTOSAVE_FILE, AUTOSAVE_VERSION
from attnscope.gui.main_window import MainWindow


def _finished(qtbot, window):
    qtbot.waitUntil(
        lambda: window.state.snapshot is not None and window.state.snapshot.done, timeout=TIMEOUT
    )
    return window.state.snapshot


def test_loading_decodes_the_example_to_the_end(qtbot, window, tiny_translation_checkpoint):
    example = load_checkpoint(tiny_translation_checkpoint).info["examples"][0]
    load(qtbot, window, tiny_translation_checkpoint)
    snapshot = _finished(qtbot, window)
    assert window.translate_view.source() == example
    assert snapshot.source_text == example and snapshot.steps
    heatmap = window.translate_view.heatmap
    qtbot.waitUntil(lambda: heatmap.matrix().shape[0] == len(snapshot.steps), timeout=TIMEOUT)
    assert not window.decode_actions.run.isChecked()
    # Step starts over from the top: one step of a fresh decode of the same source
    step = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert step.source_text == example and not step.done
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 2)


def test_reset_after_the_first_decode_starts_over(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    _finished(qtbot, window)
    wait_snapshot(qtbot, window, window.reset, lambda s: len(s.steps) == 0)
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)


def test_the_first_decode_uses_the_recommended_settings(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    load(qtbot, window, path)
    _finished(qtbot, window)
    assert window.state.decode_config.strategy == "beam"
    assert window.state.decode_config.beam_size == 3


def test_text_typed_while_loading_is_what_gets_decoded(
    qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint
):
    window.translate_view.set_source(SOURCE)
    load(qtbot, window, tiny_translation_checkpoint)
    assert _finished(qtbot, window).source_text == SOURCE
    # a model opened later decodes what is on screen too
    load(qtbot, window, tiny_multihead_checkpoint)
    qtbot.waitUntil(
        lambda: (
            window.state.snapshot is not None
            and window.state.snapshot.done
            and window.state.snapshot.attention.shape[1] == 4
        ),
        timeout=TIMEOUT,
    )
    assert window.state.snapshot.source_text == SOURCE


def test_a_restored_session_wins_over_the_first_decode(
    qtbot, tmp_path, tiny_translation_checkpoint
):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    saved = {
        "version": AUTOSAVE_VERSION,
        "checkpoint": str(tiny_translation_checkpoint),
        "task": "translation",
        "source": SOURCE,
        "settings": {"strategy": "greedy", "max_length": 50},
        "plan": [None, None],
        "tokens": [],
    }
    (tmp_path / AUTOSAVE_FILE).write_text(json.dumps(saved), encoding="utf-8")
    window = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(window)
    try:
        load(qtbot, window, tiny_translation_checkpoint)
        assert not window.decode_actions.run.isChecked()  # no Run of its own
        qtbot.waitUntil(
            lambda: window.state.snapshot is not None and len(window.state.snapshot.steps) == 2,
            timeout=TIMEOUT,
        )
        assert window.state.snapshot.source_text == SOURCE and not window.state.snapshot.done
        # the worker has answered everything sent so far: still the restored two steps
        with qtbot.waitSignal(window.client.worker.pong, timeout=TIMEOUT):
            window.client.ping(1)
        assert len(window.state.snapshot.steps) == 2
    finally:
        window.client.shutdown()


def test_a_captioner_decodes_its_first_example_picture(qtbot, window, captioner):
    load(qtbot, window, captioner)
    snapshot = _finished(qtbot, window)
    assert window.caption_view.image_source() is not None
    assert snapshot.steps and window.state.task == "captioning"


def test_run_after_the_first_decode_decodes_it_again_live(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    first = _finished(qtbot, window)
    window.decode_actions.run.setChecked(True)
    again = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert again is not first and again.target_pieces == first.target_pieces
    assert not window.decode_actions.run.isChecked()
