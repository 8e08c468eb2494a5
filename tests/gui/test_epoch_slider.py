"""File > Open run folder: a run the test trains itself, traced through its epochs."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from window_support import TIMEOUT, load

from attnscope.gui.epoch_gif import CELL
from attnscope.gui.style import colorize
from tests.engine.training_support import reverse_config

SOURCE = "a b c d"
EPOCHS = 3


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A three-epoch run of the tiny reverse task that keeps every epoch (seconds)."""
    from attnscope.engine.training.run import train

    folder = tmp_path_factory.mktemp("reverse")
    config = reverse_config(folder, train=96, val=16, run={"epochs": EPOCHS, "keep_epochs": EPOCHS})
    result = train(config)
    assert result.status == "finished"
    return folder / "run"


def _show(qtbot, window, checkpoint):
    """Load ``checkpoint`` and put the source on screen, decoding greedily and briefly."""
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.strategy.setCurrentText("Greedy")
    window.decode_settings.max_length.setValue(2 * len(SOURCE.split()))


def _trace(qtbot, window, folder):
    epochs = window.epochs
    with qtbot.waitSignal(epochs.traced, timeout=TIMEOUT) as blocker:
        epochs.open_folder(str(folder))
    return blocker.args[0]


@pytest.fixture
def traced(qtbot, window, run_folder):
    _show(qtbot, window, run_folder / "last.safetensors")
    return _trace(qtbot, window, run_folder)


def test_the_slider_shows_each_epochs_attention_and_moves_the_curve_markers(qtbot, window, traced):
    view = window.epochs.view
    assert window.workspaces.currentWidget() is view
    assert [e.epoch for e in traced.epochs] == [1, 2, 3]
    assert view.slider.maximum() == EPOCHS - 1 and view.shown_epoch() == EPOCHS  # the final
    for index, epoch in enumerate(traced.epochs):
        view.slider.setValue(index)
        expected = epoch.attention.mean(axis=1)  # (T, S), heads averaged as the view shows
        np.testing.assert_allclose(view.heatmap.matrix(), expected, atol=1e-6)
        assert view.curves.marker_epoch() == epoch.epoch
    assert {"bleu", "val_loss", "entropy", "top1_to_final"} <= set(view.curves.curves)
    # the chips are the forced output, with the shown epoch's probabilities; a click selects
    assert len(view.chips.chips) == len(traced.target_pieces)
    view.chips.stepSelected.emit(1)
    assert view.heatmap.selected_row() == 1
    assert f"{math.exp(traced.epochs[-1].token_log_probs[1]):.3f}" in view.chips.chips[1].toolTip()
    assert all(len(view.curves.curves[name]) == EPOCHS for name in ("bleu", "val_loss"))
    view.slider.setValue(0)
    view._timer.setInterval(10)  # Play at test speed: it runs to the final epoch and stops
    view.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not view.play_button.isChecked(), timeout=TIMEOUT)
    assert view.shown_epoch() == EPOCHS


def test_the_gif_holds_one_frame_per_epoch_drawn_from_its_weights(window, traced, tmp_path):
    messages = []
    window.message_bar.show_message = lambda text, level="error", **_: messages.append(text)
    assert window.epochs.export_gif(tmp_path) is None  # a folder: refused with a message
    assert "Could not export the GIF" in messages[-1]
    path = window.epochs.export_gif(tmp_path / "epochs.gif")
    gif = Image.open(path)
    assert gif.n_frames == EPOCHS and gif.info["loop"] == 0
    heatmap = window.epochs.view.heatmap
    rows, columns = len(heatmap.target_tokens()), len(heatmap.source_tokens())
    for index, epoch in enumerate(traced.epochs):
        gif.seek(index)
        frame = np.asarray(gif.convert("RGB"), dtype=np.int16)  # (H, W, 3)
        expected = colorize(epoch.attention.mean(axis=1)).astype(np.int16)  # (T, S, 3)
        # the heat map is the bottom-right rows x columns block of CELL-pixel cells
        bottom, right = frame.shape[0] - 8, frame.shape[1] - 8
        centres = frame[
            bottom - rows * CELL + CELL // 2 : bottom : CELL,
            right - columns * CELL + CELL // 2 : right : CELL,
        ]
        assert np.abs(centres - expected).max() <= 24  # GIF's 256-colour palette


def test_a_typed_reference_is_traced_instead_and_cancel_keeps_the_last_trace(qtbot, window, traced):
    view, epochs = window.epochs.view, window.epochs
    view.reference.setText("d c b a")
    with qtbot.waitSignal(epochs.traced, timeout=TIMEOUT) as blocker:
        view.trace_action.trigger()
    forced = blocker.args[0]
    assert forced.output == "d c b a" and forced.output_from == "reference"
    assert "the reference" in view.header.text()
    worker = epochs.client.worker
    # cancel once the first epoch is traced: the trace stops before the next one
    worker.progress.connect(lambda *_: epochs.client.cancel(), Qt.DirectConnection)
    with qtbot.waitSignal(worker.cancelled, timeout=TIMEOUT):
        view.trace_action.trigger()
    qtbot.waitUntil(lambda: view.header.text() == "Tracing stopped.", timeout=TIMEOUT)
    assert view.trace is forced and view.trace_action.isEnabled()


def test_a_bad_epoch_file_is_skipped_with_a_message_and_an_empty_folder_refused(
    qtbot, window, run_folder, tmp_path
):
    copy = tmp_path / "run"
    shutil.copytree(run_folder, copy)
    (copy / "epoch-002.safetensors").write_bytes(b"not a checkpoint")
    (copy / "epoch-001.safetensors").unlink()  # metrics.jsonl still lists epoch 1
    _show(qtbot, window, copy / "last.safetensors")
    messages = []
    window.message_bar.show_message = lambda text, level="error", **_: messages.append(text)
    trace = _trace(qtbot, window, copy)
    assert [e.epoch for e in trace.epochs] == [3]
    skipped = window.epochs.view.skipped.text()
    assert "epoch-002.safetensors" in skipped and "epochs 1, 2" in skipped
    assert not window.epochs.view.slider.isEnabled()  # one epoch: nothing to slide through
    assert any("epoch-002.safetensors" in text for text in messages)
    empty = tmp_path / "empty"
    empty.mkdir()
    window.epochs.open_folder(str(empty))
    qtbot.waitUntil(lambda: "no usable epoch" in messages[-1], timeout=TIMEOUT)
    assert window.epochs.view.trace is trace  # the last trace stays shown
    window.epochs.leave()
    assert window.workspaces.currentWidget() is window.translate_view
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT):
        window.step()  # the window's own model still answers


def _fake_trace(epochs=3):
    """The fields of an EpochTrace the view reads, for a 2-token output over 3 pieces."""
    from pathlib import Path
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    traced = tuple(
        SimpleNamespace(
            epoch=epoch,
            attention=rng.dirichlet(np.ones(3), size=(2, 1)).astype(np.float32),
            log_prob=-1.0,
            token_log_probs=(-0.5, -0.5),
            entropy=1.0,
            jsd_to_final=0.0,
            top1_to_final=1.0,
        )
        for epoch in range(1, epochs + 1)
    )
    run = SimpleNamespace(folder=Path("run"), metric_names=lambda: (), missing_epochs=())
    return SimpleNamespace(
        run=run,
        epochs=traced,
        grid=None,
        source_pieces=("▁a", "▁b", "</s>"),
        target_pieces=("▁b", "</s>"),
        output="b",
        output_from="final epoch's output",
        skipped=(),
        curve=lambda name: (),
    )


def test_the_keys_move_the_slider_and_space_plays_to_the_final_epoch(qtbot):
    from attnscope.gui.epoch_view import EpochView

    view = EpochView()
    qtbot.addWidget(view)
    view.show_trace(_fake_trace())
    qtbot.keyClick(view.slider, Qt.Key_Home)
    assert view.shown_epoch() == 1
    qtbot.keyClick(view.slider, Qt.Key_Right)
    assert view.shown_epoch() == 2
    view._timer.setInterval(10)
    # Space (offscreen, a test's key click reaches no shortcut: the action is triggered)
    (space,) = [a for a in view.actions() if a.shortcut() == QKeySequence(Qt.Key_Space)]
    with qtbot.waitSignal(view.play_button.toggled, check_params_cb=bool, timeout=TIMEOUT):
        space.trigger()
    qtbot.waitUntil(lambda: not view.play_button.isChecked(), timeout=TIMEOUT)
    assert view.shown_epoch() == 3
