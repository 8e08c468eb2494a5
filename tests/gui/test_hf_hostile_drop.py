"""A hostile Hugging Face folder dropped on the window (its weights leave a layer out,
which transformers would fill at random): one message, and the model already open keeps
translating."""

import shutil

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from safetensors.torch import load_file, save_file
from window_support import TIMEOUT, wait_first_screen, wait_snapshot

from tests.engine.hf.tiny_models import save_tiny_model

SOURCE = "the cat sat on the mat"


def _drop(window, folder) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def test_a_folder_missing_a_tensor_is_refused_and_the_open_model_stays(qtbot, window, tmp_path):
    good = save_tiny_model(tmp_path / "tiny-marian", "marian", seed=3, eos_bias=2.0)
    window.translate_view.set_source(SOURCE)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        _drop(window, good)
    wait_first_screen(qtbot, window)
    before = window.state.snapshot.attention.shape
    bad = shutil.copytree(good, tmp_path / "half-trained")
    tensors = load_file(bad / "model.safetensors")
    del tensors["model.decoder.layers.1.fc1.weight"]
    save_file(tensors, bad / "model.safetensors", metadata={"format": "pt"})
    _drop(window, bad)
    qtbot.waitUntil(lambda: bad.name in window.message_bar.text(), timeout=TIMEOUT)
    message = window.message_bar.text()
    assert message.startswith(f"Could not open {bad.name}: ")
    assert "do not fit the config" in message and "\n" not in message
    assert window.state.summary.path == str(good)
    window.reset()
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.attention.shape[1:] == before[1:]
