"""Dropping on the source editor: a checkpoint, a model folder or a picture opens as a drop
on the window would, never pasted as its path; plain text is still inserted."""

import shutil

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication
from window_support import TIMEOUT, load

from attnscope.gui.drops import checkpoint_in_folder, is_file_drop

TEXT = "ein hund läuft ."


def _drop_on_editor(window, mime) -> bool:
    """Drag ``mime`` over the source editor and drop it; True when the editor took the drag."""
    viewport = window.translate_view.source_edit.viewport()
    enter = QDragEnterEvent(QPoint(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, enter)
    drop = QDropEvent(QPointF(5, 5), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, drop)
    return enter.isAccepted() and drop.isAccepted()


def _files(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    mime.setText("\n".join(QUrl.fromLocalFile(str(p)).toString() for p in paths))
    return mime


def _text(text: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(text)
    return mime


def test_a_checkpoint_dropped_on_the_editor_loads_and_the_text_stays(
    qtbot, window, tiny_translation_checkpoint
):
    window.translate_view.set_source(TEXT)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        assert _drop_on_editor(window, _files(tiny_translation_checkpoint))
    assert window.state.summary.name == tiny_translation_checkpoint.name
    assert window.translate_view.source() == TEXT  # no file:// path pasted into it


def test_plain_text_dropped_on_the_editor_is_inserted(qtbot, window):
    window.translate_view.set_source("")
    assert _drop_on_editor(window, _text(TEXT))
    assert window.translate_view.source() == TEXT
    assert window.state.loading is None and window.state.summary is None


def test_a_model_folder_dropped_on_the_editor_opens_its_best_checkpoint(
    qtbot, window, tiny_translation_checkpoint, tiny_multihead_checkpoint, tmp_path
):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_translation_checkpoint, run / "epoch-001.safetensors")
    shutil.copy(tiny_multihead_checkpoint, run / "best.safetensors")
    assert checkpoint_in_folder(run) == run / "best.safetensors"
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        assert _drop_on_editor(window, _files(run))
    assert window.state.summary.name == "best.safetensors"


def test_a_folder_without_a_checkpoint_says_so(qtbot, window, tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here", encoding="utf-8")
    assert checkpoint_in_folder(tmp_path) is None
    assert _drop_on_editor(window, _files(tmp_path))
    assert "holds no checkpoint" in window.message_bar.text()
    assert window.translate_view.source() == ""


def test_a_picture_dropped_on_the_editor_goes_to_the_pictures_not_the_text(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    before = window.translate_view.source()
    picture = tmp_path / "cat.png"
    image = QImage(8, 8, QImage.Format_RGB32)
    image.fill(0x336699)
    image.save(str(picture))
    assert _drop_on_editor(window, _files(picture))
    assert "load a captioning model first" in window.message_bar.text()
    assert window.translate_view.source() == before


def test_what_counts_as_a_file_drop():
    assert is_file_drop(_files("/tmp/model.safetensors"))
    assert not is_file_drop(_text("file:///tmp/model.safetensors"))
    web = QMimeData()
    web.setUrls([QUrl("https://example.com/a")])
    assert not is_file_drop(web)
    pixels = QMimeData()
    pixels.setImageData(QImage(2, 2, QImage.Format_RGB32))
    assert is_file_drop(pixels)
