"""A Hugging Face model folder dropped on the window: it loads through the app's own loader,
the heat map offers its layers × heads, and a bad folder leaves the loaded model working."""

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_support import TIMEOUT, wait_first_screen, wait_snapshot

from attnscope.gui.heatmap import HEAD_GRID, LAYER_MEAN
from tests.engine.hf.tiny_models import save_tiny_model

SOURCE = "the cat sat on the mat"
LAYERS, HEADS = 2, 2  # the tiny models' decoder (tests/engine/hf/tiny_models.py)


@pytest.fixture(scope="module")
def marian_folder(tmp_path_factory):
    # seed and eos bias of tests/engine/hf/conftest.py: outputs of a few tokens
    folder = tmp_path_factory.mktemp("hf") / "tiny-marian"
    return save_tiny_model(folder, "marian", seed=3, eos_bias=2.0)


def _drop(window, folder) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def _open_by_drop(qtbot, window, folder) -> None:
    window.translate_view.set_source(SOURCE)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        _drop(window, folder)
    wait_first_screen(qtbot, window)  # the decode made on load has been drawn


def test_a_dropped_marian_folder_shows_its_layers_and_heads(qtbot, window, marian_folder):
    _open_by_drop(qtbot, window, marian_folder)
    summary = window.state.summary
    assert (summary.layers, summary.heads_per_layer) == (LAYERS, HEADS)
    assert window.recent.paths()[0] == str(marian_folder.resolve())
    window.menus.recent_entries.fill()  # File > Open recent, as it opens
    assert window.menus.recent_menu.actions()[0].text() == "tiny-marian/"
    assert f"{LAYERS} layers × {HEADS} heads" in window.model_panel.labels["attention"].text()
    assert window.state.snapshot.num_layers == LAYERS
    heatmap = window.translate_view.heatmap
    assert heatmap.layers() == LAYERS and heatmap.layer_mode() == LAYER_MEAN
    heatmap.set_head_mode(HEAD_GRID)
    assert heatmap._grid.shape() == (LAYERS, HEADS)
    assert heatmap._grid.titles() == ["L1 H1", "L1 H2", "L2 H1", "L2 H2"]
    mean = heatmap.matrix()
    layer_combo = heatmap._controls.layer_combo
    layer_combo.setCurrentIndex(layer_combo.findData(1))  # the second layer, as a user picks it
    second = heatmap.matrix()
    heatmap.set_head_mode(0)
    first_head = heatmap.matrix()
    attention = window.state.snapshot.attention  # (T, layers·heads, S), layer-major
    np.testing.assert_allclose(first_head, attention[:, HEADS], rtol=1e-6)
    assert not np.allclose(mean, second) and not np.allclose(second, first_head)
    rollout = heatmap._controls.rollout_button
    assert rollout.isEnabled()  # a Transformer encoder: its self-attention rolls out
    rollout.click()
    np.testing.assert_allclose(heatmap.matrix().sum(axis=1), 1.0, rtol=1e-5)


def test_a_bad_folder_dropped_gets_one_message_and_the_model_stays(
    qtbot, window, marian_folder, tmp_path, monkeypatch
):
    from attnscope.gui import main_window

    dialog = main_window.QFileDialog
    monkeypatch.setattr(dialog, "getExistingDirectory", lambda *a: str(marian_folder))
    window.translate_view.set_source(SOURCE)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.menus.open_folder_action.trigger()  # File > Open folder…
    wait_first_screen(qtbot, window)
    bad = tmp_path / "bert-folder"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    _drop(window, bad)
    qtbot.waitUntil(lambda: bad.name in window.message_bar.text(), timeout=TIMEOUT)
    message = window.message_bar.text()
    assert message.startswith(f"Could not open {bad.name}: ") and "encoder" in message
    assert "\n" not in message and "Traceback" not in message
    assert window.state.summary.path == str(marian_folder)
    window.reset()
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.attention.shape[1] == LAYERS * HEADS


def test_a_folder_of_pictures_is_told_to_drop_a_picture(tmp_path):
    from attnscope.gui.drops import handle_drop

    (tmp_path / "cat.jpg").write_bytes(b"not looked at")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    loaded, messages = [], []
    handle_drop(
        mime,
        pictures=None,
        load_checkpoint=loaded.append,
        show_message=lambda text, level: messages.append((text, level)),
    )
    assert loaded == [] and len(messages) == 1
    text, level = messages[0]
    assert level == "warning" and "holds pictures" in text and "drop a picture" in text
