"""A new user's first minutes with Hugging Face folders: messages that went stale once
the user did what they asked stay no longer (found walking the real window, issue 20)."""

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_support import TIMEOUT, wait_first_screen

from tests.engine.hf.tiny_models import save_tiny_model


@pytest.fixture(scope="module")
def marian_folder(tmp_path_factory):
    # seed and eos bias of tests/engine/hf/conftest.py: outputs of a few tokens
    folder = tmp_path_factory.mktemp("hf") / "tiny-marian"
    return save_tiny_model(folder, "marian", seed=3, eos_bias=2.0)


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))


def _load(qtbot, window, path) -> None:
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        _drop(window, path)
    wait_first_screen(qtbot, window)


def test_a_warning_from_before_a_load_is_gone_once_a_model_loads(qtbot, window, marian_folder):
    window.translate_view.set_source("the cat sat on the mat")
    _load(qtbot, window, marian_folder)
    picture = marian_folder.parent / "cat.png"
    picture.write_bytes(b"never read: a text model refuses it by its name")
    _drop(window, picture)
    warning = window.message_bar.text()
    assert "load a captioning model first" in warning and "Open folder" in warning
    _load(qtbot, window, marian_folder)  # the user opens a model, as asked
    assert window.message_bar.text() == ""


def test_a_message_shown_while_loading_stays(qtbot, window, marian_folder):
    window.translate_view.set_source("the cat sat on the mat")
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        _drop(window, marian_folder)
        window.show_message("shown while the folder loads", "warning")
    wait_first_screen(qtbot, window)
    assert window.message_bar.text() == "shown while the folder loads"


def test_the_model_panel_calls_a_folder_a_model_not_a_file(qtbot):
    from attnscope.engine.inference_results import ModelSummary
    from attnscope.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    row = panel.layout().labelForField(panel.labels["file"])

    def show(info) -> None:
        panel.set_summary(
            ModelSummary(
                path="/models/tiny-marian",
                name="tiny-marian",
                task="translation",
                architecture="Marian",
                attention="scaled dot-product (cross)",
                heads=4,
                parameters=13_520,
                src_vocab=21,
                tgt_vocab=21,
                device="cpu",
                info=info,
                examples=(),
                target_vocab=(),
            )
        )

    show({"format": "huggingface", "family": "marian"})
    assert row.text() == "Model"
    show({"epoch": 3})  # an AttnScope checkpoint is a file
    assert row.text() == "File"
