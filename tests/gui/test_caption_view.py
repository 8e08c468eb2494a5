"""The captioning workspace driven as a user would: real window, real worker thread, tiny model.

Choosing, dropping, pasting and stepping pictures here; attention views and exports in
test_caption_attention.py."""

import numpy as np
import pytest
from caption_window_support import (
    GRID,
    drop,
    drop_and_wait,
    drop_file,
    engine_snapshot,
    load_captioner,
    shown_overlay_matches,
    step_to,
)
from captioning_support import (
    gradient_rgb,
    save_animated_gif,
    save_bomb_png,
    save_corrupt_jpeg,
    save_picture,
)
from PIL import Image
from PySide6.QtCore import (
    QByteArray,
    QMimeData,
    QPoint,
    Qt,
)
from PySide6.QtGui import QColor, QDragEnterEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtTest import QTest
from window_support import TIMEOUT, wait_snapshot

from attnscope.engine.errors import ImageInputError
from attnscope.engine.resources import example_images
from attnscope.gui.caption_view import qimage_to_rgb


@pytest.fixture
def window(shown_window):
    return shown_window


# -- loading and choosing pictures -----------------------------------------------------------
def test_loading_a_captioner_shows_the_picture_pane_with_an_example(qtbot, window, captioner):
    snapshot = load_captioner(qtbot, window, captioner)
    view = window.caption_view
    assert window.workspaces.currentWidget() is view
    assert view.pages.currentWidget() is view.overlay
    assert snapshot.grid == GRID and snapshot.done and snapshot.steps  # captioned on load
    assert len(view.gallery.buttons) == len(example_images())
    assert window.captioning.open_action.shortcut().toString() == "Ctrl+Shift+O"
    assert window.decode_settings.live.text() == "Caption each new picture"
    window.export_menu.aboutToShow.emit()
    visible = [a.text() for a in window.export_menu.actions() if a.isVisible()]
    assert any("Strip of every word" in t for t in visible)
    assert not any("Heat map" in t for t in visible)
    # a gallery click captions another bundled picture
    second = str(example_images()[1])
    wait_snapshot(qtbot, window, view.gallery.buttons[1].click, lambda s: s.source_text == second)
    assert window.state.snapshot.image.shape[:2] == Image.open(second).size[::-1]


def test_drop_a_file_step_and_overlay_matches_the_engine(qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    picture = save_picture(tmp_path / "ramp.png")
    snapshot = drop_and_wait(qtbot, window, picture)
    assert snapshot.image.shape == (48, 72, 3)
    snapshot = step_to(qtbot, window, 2)
    view = window.caption_view
    reference = engine_snapshot(captioner, str(picture), 2)
    assert snapshot.target_pieces == reference.target_pieces
    expected = reference.attention[1, 0].reshape(GRID)
    np.testing.assert_allclose(view.shown_grid(), expected, atol=1e-6)
    assert shown_overlay_matches(view, expected)
    assert view.strip.thumbnail_count() == 2 and len(view.chips.chips) == 2
    assert view.caption_label.text() == snapshot.target_text
    view.overlay.set_mode("blocky")
    assert shown_overlay_matches(view, expected)
    # the timeline and a chip both select the first word
    window.select_step(0)
    np.testing.assert_allclose(view.shown_grid(), reference.attention[0, 0].reshape(GRID))
    wait_snapshot(qtbot, window, window.back, lambda s: len(s.steps) == 1)
    assert view.strip.thumbnail_count() == 1


def test_drop_raw_pixels_and_encoded_bytes(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    rgb = gradient_rgb(30, 50)
    image = QImage(rgb.tobytes(), 50, 30, 150, QImage.Format.Format_RGB888).copy()
    mime = QMimeData()
    mime.setImageData(image)
    snapshot = wait_snapshot(
        qtbot, window, lambda: drop(window, mime), lambda s: s.image.shape == (30, 50, 3)
    )
    np.testing.assert_array_equal(snapshot.image, rgb)
    assert isinstance(window.current_source(), np.ndarray)
    step_to(qtbot, window, 1)
    # encoded PNG bytes, as a browser offers them, go to the worker undecoded
    png = QByteArray(_png_bytes(gradient_rgb(20, 40)))
    mime = QMimeData()
    mime.setData("image/png", png)
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    enter.ignore()
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    other = QMimeData()
    other.setText("words")
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, other, Qt.LeftButton, Qt.NoModifier)
    enter.ignore()
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()
    snapshot = wait_snapshot(
        qtbot, window, lambda: drop(window, mime), lambda s: s.image.shape == (20, 40, 3)
    )
    assert isinstance(window.current_source(), bytes) and snapshot.steps == ()


def _png_bytes(rgb):
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_paste_from_the_clipboard(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("just words")
    window.caption_view.paste_action.trigger()
    assert "no picture" in window.message_bar.text()
    rgb = gradient_rgb(24, 36)
    clipboard.setImage(QImage(rgb.tobytes(), 36, 24, 108, QImage.Format.Format_RGB888).copy())
    view = window.caption_view
    window.activateWindow()
    view.chips.setFocus()
    snapshot = wait_snapshot(
        qtbot,
        window,
        lambda: QTest.keySequence(view.chips, QKeySequence.Paste),  # Ctrl+V on the workspace
        lambda s: s.image.shape == (24, 36, 3),
    )
    np.testing.assert_array_equal(snapshot.image, rgb)


def test_the_same_picture_chosen_again_starts_a_new_session(qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    picture = save_picture(tmp_path / "again.png")
    drop_and_wait(qtbot, window, picture)
    step_to(qtbot, window, 2)
    snapshot = drop_and_wait(qtbot, window, picture)
    assert snapshot.steps == ()


def test_open_image_dialog(qtbot, window, captioner, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    load_captioner(qtbot, window, captioner)
    picture = save_picture(tmp_path / "chosen.jpg")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(picture), ""))
    snapshot = wait_snapshot(
        qtbot,
        window,
        window.captioning.open_action.trigger,
        lambda s: s.source_text == str(picture),
    )
    assert window.caption_view.image_name() == "chosen.jpg" and snapshot.image is not None


def test_a_picture_without_a_captioner_gets_a_message(qtbot, window, tmp_path):
    picture = save_picture(tmp_path / "early.png")
    drop_file(window, picture)
    assert "captioning model first" in window.message_bar.text()
    assert window.caption_view.image_source() is None


# -- awkward pictures -----------------------------------------------------------------------
GOOD_PICTURES = {
    "one-pixel.png": lambda p: save_picture(p, size=(1, 1)),
    "grey.png": lambda p: save_picture(p, "L"),
    "transparent.png": lambda p: save_picture(p, "RGBA"),
    "cmyk.jpg": lambda p: save_picture(p, "CMYK"),
    "animated.gif": save_animated_gif,
}


@pytest.mark.parametrize("name", sorted(GOOD_PICTURES))
def test_unusual_pictures_are_captioned(qtbot, window, captioner, tmp_path, name):
    load_captioner(qtbot, window, captioner)
    picture = GOOD_PICTURES[name](tmp_path / name)
    snapshot = drop_and_wait(qtbot, window, picture)
    assert snapshot.image.ndim == 3 and snapshot.image.shape[2] == 3
    with Image.open(picture) as original:
        assert snapshot.image.shape[:2] == original.size[::-1]
    snapshot = step_to(qtbot, window, 1)
    assert len(snapshot.target_pieces) == 1
    assert window.caption_view.shown_grid().shape == GRID


BAD_PICTURES = {
    "notes.txt": (lambda p: p.write_text("not a picture at all\n"), "not a supported image"),
    "broken.jpg": (save_corrupt_jpeg, "truncated or corrupt"),
    "bomb.png": (save_bomb_png, "too large"),
}


@pytest.mark.parametrize("name", sorted(BAD_PICTURES))
def test_bad_pictures_get_a_message_and_the_app_keeps_working(
    qtbot, window, captioner, tmp_path, name
):
    load_captioner(qtbot, window, captioner)
    make, expected = BAD_PICTURES[name]
    path = tmp_path / name
    make(path)
    # the message comes from the worker thread: the GUI thread never decodes the file
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT) as blocker:
        drop_file(window, path)
    assert name in blocker.args[0] and expected in blocker.args[0]
    qtbot.waitUntil(lambda: expected in window.message_bar.text(), timeout=TIMEOUT)
    view = window.caption_view
    assert view.pages.currentWidget() is view.hint and "Could not caption" in view.hint.text()
    # the model is still loaded; Step retries the same file with the same clear message
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT) as blocker:
        window.step()
    assert expected in blocker.args[0]
    good = save_picture(tmp_path / "fine.png")
    drop_and_wait(qtbot, window, good)
    # the Step queued behind the failed open did not replace the message with a vaguer one
    assert expected in window.message_bar.text()
    assert len(step_to(qtbot, window, 1).steps) == 1


def test_bad_raw_image_data_gets_a_message(qtbot, window, captioner, monkeypatch):
    load_captioner(qtbot, window, captioner)
    mime = QMimeData()
    mime.setImageData(QImage())
    drop(window, mime)
    assert "unreadable" in window.message_bar.text()
    # pixels over the limit are refused before any copy (limit lowered to stay cheap)
    monkeypatch.setattr("attnscope.gui.image_input.MAX_IMAGE_PIXELS", 100)
    mime = QMimeData()
    mime.setImageData(QImage(20, 10, QImage.Format.Format_RGB32))
    drop(window, mime)
    assert "20x10" in window.message_bar.text() and "megapixels" in window.message_bar.text()
    # encoded bytes that are no picture: the worker says so
    mime = QMimeData()
    mime.setData("image/png", QByteArray(b"definitely not a PNG"))
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT) as blocker:
        drop(window, mime)
    assert "not a supported image" in blocker.args[0]
    assert window.caption_view.image_name() == "dropped image"


def test_qimage_to_rgb_puts_transparency_on_white():
    image = QImage(4, 3, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    image.setPixelColor(1, 2, QColor(200, 10, 20, 255))
    rgb = qimage_to_rgb(image)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert (rgb[0, 0] == 255).all()
    assert tuple(rgb[2, 1]) == (200, 10, 20)
    with pytest.raises(ImageInputError, match="empty"):
        qimage_to_rgb(QImage())


def test_live_mode_captions_a_dropped_picture_to_the_end(qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 4})
    window.decode_settings.live.setChecked(True)
    picture = save_picture(tmp_path / "live.png")
    snapshot = wait_snapshot(
        qtbot,
        window,
        lambda: drop_file(window, picture),
        lambda s: s.source_text == str(picture) and s.done,
    )
    assert 1 <= len(snapshot.steps) <= 4
    assert window.caption_view.strip.thumbnail_count() == len(snapshot.steps)


def test_step_before_any_picture_asks_for_one(qtbot, window, captioner):
    window.caption_view.gallery.set_paths([])  # no examples to start from
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.load_checkpoint(str(captioner))
    view = window.caption_view
    assert window.workspaces.currentWidget() is view and view.pages.currentWidget() is view.hint
    window.step()
    assert "Drop a picture" in window.message_bar.text()
    assert window.state.snapshot is None


def _fake_snapshot(steps, image, grid=GRID, heads=1):
    """A captioning SessionSnapshot with ``steps`` words and random attention."""
    from attnscope.engine.inference import SessionSnapshot, TokenStep

    rng = np.random.default_rng(steps)
    attention = rng.random((steps, heads, grid[0] * grid[1])).astype(np.float32)
    attention /= attention.sum(axis=-1, keepdims=True)
    ids = np.arange(3)
    tokens = tuple(
        TokenStep(4 + i, f"▁w{i}", -0.5, ids, np.full(3, 1 / 3), ("a", "b", "c"), False)
        for i in range(steps)
    )
    return SessionSnapshot(
        source_text="fake.png",
        source_pieces=(),
        target_pieces=tuple(t.piece for t in tokens),
        target_text=" ".join(f"w{i}" for i in range(steps)),
        steps=tokens,
        attention=attention,
        num_heads=heads,
        done=False,
        strategy="greedy",
        grid=grid,
        image=image,
    )


def test_strip_redraws_are_coalesced_while_running_and_skipped_when_unchanged(qtbot):
    from attnscope.gui.caption_view import CaptionWorkspace

    view = CaptionWorkspace(example_paths=[])
    qtbot.addWidget(view)
    image = gradient_rgb()
    first = _fake_snapshot(2, image)
    view.show_snapshot(first, 1)
    assert view.strip.thumbnail_count() == 2
    widget = view.strip.thumbnail_widget(0)
    view.show_snapshot(first, 0)  # same words and maps: the strip is left alone
    assert view.strip.thumbnail_widget(0) is widget
    view.set_streaming(True)
    for steps in (3, 4, 5):
        view.show_snapshot(_fake_snapshot(steps, image), steps - 1)
    assert view.strip.thumbnail_count() == 2  # not redrawn for every streamed word
    assert len(view.chips.chips) == 5  # while the rest follows live
    qtbot.waitUntil(lambda: view.strip.thumbnail_count() == 5)
    view.set_streaming(False)
    view.show_snapshot(_fake_snapshot(6, image), 5)
    assert view.strip.thumbnail_count() == 6
