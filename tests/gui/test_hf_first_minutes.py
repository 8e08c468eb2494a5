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


def test_a_file_of_a_folder_dropped_alone_is_told_to_open_the_folder_first(
    qtbot, window, marian_folder
):
    window.translate_view.set_source("the cat sat on the mat")
    _load(qtbot, window, marian_folder)
    _drop(window, marian_folder / "config.json")  # read as a checkpoint: a huge "header"
    qtbot.waitUntil(lambda: "config.json" in window.message_bar.text(), timeout=TIMEOUT)
    assert window.message_bar.text().startswith(
        "Could not open config.json: config.json is part of a Hugging Face model folder: "
        "open the folder "
    )
    assert window.state.summary.path == str(marian_folder)  # the loaded model stays


def _summary(info):
    from attnscope.engine.inference_results import ModelSummary

    return ModelSummary(
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


def test_the_model_panel_calls_a_folder_a_model_not_a_file(qtbot):
    from attnscope.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    row = panel.layout().labelForField(panel.labels["file"])
    panel.set_summary(_summary({"format": "huggingface", "family": "marian"}))
    assert row.text() == "Model"
    panel.set_summary(_summary({"epoch": 3}))  # an AttnScope checkpoint is a file
    assert row.text() == "File"


def test_a_typed_language_that_is_no_code_goes_back_to_the_code_in_use(qtbot):
    from PySide6.QtTest import QTest

    from attnscope.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    pair = {"source": "eng_Latn", "target": "fra_Latn", "codes": ["eng_Latn", "fra_Latn"]}
    panel.set_summary(_summary({"format": "huggingface", "language_pair": pair}))
    chosen = []
    panel.languagesChosen.connect(lambda *codes: chosen.append(codes))
    target = panel.target_language
    target.lineEdit().selectAll()
    QTest.keyClicks(target.lineEdit(), "xx_Fake")  # no code of this model
    QTest.keyClick(target.lineEdit(), Qt.Key.Key_Return)
    assert target.currentText() == "fra_Latn" and chosen == []
    target.lineEdit().selectAll()
    QTest.keyClicks(target.lineEdit(), "eng_Latn")  # a code: taken
    QTest.keyClick(target.lineEdit(), Qt.Key.Key_Return)
    assert target.currentText() == "eng_Latn" and chosen == [("eng_Latn", "eng_Latn")]


def test_choosing_the_source_language_keeps_the_target(qtbot):
    from PySide6.QtTest import QTest

    from attnscope.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    codes = ["eng_Latn", "fra_Latn", "deu_Latn"]
    pair = {"source": "eng_Latn", "target": "fra_Latn", "codes": codes}
    panel.set_summary(_summary({"format": "huggingface", "language_pair": pair}))
    chosen = []
    panel.languagesChosen.connect(lambda *codes: chosen.append(codes))
    source = panel.source_language
    source.lineEdit().selectAll()
    QTest.keyClicks(source.lineEdit(), "deu_Latn")
    QTest.keyClick(source.lineEdit(), Qt.Key.Key_Return)
    assert chosen == [("deu_Latn", "fra_Latn")]  # not the target list's first code


def test_a_translation_that_wraps_does_not_cut_off_the_chips_under_it(qtbot):
    from types import SimpleNamespace

    from attnscope.gui.translate_view import TranslateWorkspace

    view = TranslateWorkspace()
    qtbot.addWidget(view)
    view.resize(500, 700)
    view.show()
    qtbot.waitExposed(view)
    top = view.splitter.widget(0)
    text = " ".join(["cat"] * 40)  # a degenerate output of a random folder: several lines
    snapshot = SimpleNamespace(target_text=text, target_pieces=[], steps=[])
    view.show_tokens(snapshot, None)
    qtbot.waitUntil(lambda: top.height() >= top.heightForWidth(top.width()))
    assert view.chips.geometry().bottom() < top.height()  # the chips' row is whole
    assert view.splitter.sizes()[1] > 0  # the heat map keeps its pane
