"""The captioning workspace driven as a user would: real window, real worker thread, tiny model."""

import json
from pathlib import Path

import numpy as np
import pytest
from captioning_support import (
    gradient_rgb,
    make_tiny_captioning_checkpoint,
    save_animated_gif,
    save_bomb_png,
    save_corrupt_jpeg,
    save_picture,
)
from PIL import Image
from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QMimeData,
    QPoint,
    QPointF,
    QSettings,
    Qt,
    QUrl,
)
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtTest import QTest

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import ImageInputError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import example_images
from attnscope.gui.attention_render import normalize_attention, upsample_attention
from attnscope.gui.caption_view import caption_word, qimage_to_rgb
from attnscope.gui.main_window import MainWindow

TIMEOUT = 20_000
GRID = (3, 3)


@pytest.fixture(scope="session")
def captioner(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-captioner.safetensors"
    return make_tiny_captioning_checkpoint(path, grid=GRID)


@pytest.fixture(scope="session")
def multihead_captioner(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-captioner-mh.safetensors"
    return make_tiny_captioning_checkpoint(path, grid=(4, 4), attention="multihead", heads=2)


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.client.shutdown()


def wait_snapshot(qtbot, window, action, check=lambda s: True):
    """Trigger ``action`` and wait for a shown snapshot that satisfies ``check``."""
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT, check_params_cb=check):
        action()
    return window.snapshot


def load_captioner(qtbot, window, path):
    """Load ``path``; the window opens the first example picture by itself."""
    first = str(example_images()[0])
    return wait_snapshot(
        qtbot, window, lambda: window.load_checkpoint(str(path)), lambda s: s.source_text == first
    )


def drop(window, mime):
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def drop_file(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    drop(window, mime)


def drop_and_wait(qtbot, window, path):
    return wait_snapshot(
        qtbot, window, lambda: drop_file(window, path), lambda s: s.source_text == str(path)
    )


def step_to(qtbot, window, count):
    for n in range(len(window.snapshot.steps) + 1, count + 1):
        wait_snapshot(qtbot, window, window.step, lambda s, n=n: len(s.steps) == n)
    return window.snapshot


def run_to_end(qtbot, window):
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)


def engine_snapshot(checkpoint, source, steps):
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(source, DecodeConfig())
    for _ in range(steps):
        opened.step()
    return model.snapshot(opened)


def shown_overlay_matches(view, grid):
    """The overlay draws ``grid`` (h, w), normalised and upsampled in its current mode."""
    drawn = view.overlay.overlay_array()
    expected = upsample_attention(normalize_attention(grid), *drawn.shape, view.overlay.mode())
    return np.allclose(drawn, expected, atol=1e-6)


# -- loading and choosing pictures -----------------------------------------------------------
def test_loading_a_captioner_shows_the_picture_pane_with_an_example(qtbot, window, captioner):
    snapshot = load_captioner(qtbot, window, captioner)
    view = window.caption_view
    assert window.workspaces.currentWidget() is view
    assert view.pages.currentWidget() is view.overlay
    assert snapshot.grid == GRID and snapshot.steps == ()
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
    assert window.snapshot.image.shape[:2] == Image.open(second).size[::-1]


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


# -- looking at attention ---------------------------------------------------------------------
def test_hovering_a_word_shows_its_map_and_leaving_restores(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    snapshot = step_to(qtbot, window, 3)
    view = window.caption_view
    grids = snapshot.attention[:, 0].reshape(3, *GRID)
    assert shown_overlay_matches(view, grids[2])
    QCoreApplication.sendEvent(view.chips.chips[0], QEvent(QEvent.Type.Enter))
    assert shown_overlay_matches(view, grids[0])
    assert "Word 1" in view.word_label.text()
    QCoreApplication.sendEvent(view.chips, QEvent(QEvent.Type.Leave))
    assert shown_overlay_matches(view, grids[2])
    QCoreApplication.sendEvent(view.strip.thumbnail_widget(1), QEvent(QEvent.Type.Enter))
    assert shown_overlay_matches(view, grids[1])


def test_clicking_a_region_lists_the_words_that_looked_there(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 5})
    snapshot = run_to_end(qtbot, window)
    view = window.caption_view
    overlay = view.overlay
    overlay.graphics_view().grab()  # apply the pending auto-range
    gx, gy = 2, 1
    gview = overlay.graphics_view()
    point = gview.mapFromScene(overlay.scene_pos_of_cell(gx, gy))
    QTest.mouseClick(gview.viewport(), Qt.LeftButton, pos=point)
    rows = view.region_chart.rows()
    weights = snapshot.attention[:, 0].reshape(-1, *GRID)[:, gy, gx]
    assert len(rows) == len(snapshot.steps)
    assert [r[2] for r in rows] == sorted(weights.tolist(), reverse=True)
    top_step, top_word, top_weight = rows[0]
    assert top_weight == pytest.approx(float(weights.max()))
    assert top_word == caption_word(snapshot.target_pieces[top_step])
    # clicking the top bar selects that word
    with qtbot.waitSignal(view.stepSelected) as blocker:
        QTest.mouseClick(view.region_chart, Qt.LeftButton, pos=view.region_chart.row_centre(0))
    assert blocker.args == [top_step]
    chart = view.region_chart
    with qtbot.waitSignal(view.stepSelected) as blocker:
        QTest.mouseClick(chart, Qt.LeftButton, pos=chart.row_centre(len(rows) - 1))
    assert blocker.args == [rows[-1][0]]
    assert "row 2, column 3 (of 3×3)" in view.region_chart.title()


def test_multihead_maps_follow_the_head_selector(qtbot, window, multihead_captioner):
    load_captioner(qtbot, window, multihead_captioner)
    snapshot = step_to(qtbot, window, 2)
    view = window.caption_view
    assert not view.head_box.isHidden() and view.head_box.count() == 3
    per_head = snapshot.attention.reshape(2, 2, 4, 4)  # (T, heads, h, w)
    np.testing.assert_allclose(view.shown_grid(), per_head[1].mean(axis=0), atol=1e-6)
    view.set_head(1)
    np.testing.assert_allclose(view.shown_grid(), per_head[1, 1], atol=1e-6)
    assert shown_overlay_matches(view, per_head[1, 1])
    assert view.strip.thumbnail_count() == 2
    assert view.attention_grids().shape == (2, 2, 4, 4)


def test_beam_hypothesis_selection_shows_its_words_and_maps(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3, "max_length": 6})
    snapshot = run_to_end(qtbot, window)
    tree = snapshot.tree
    other = next(
        n
        for n in range(1, len(tree))
        if n not in tree.path(snapshot.best_node) and tree.steps[n] >= 1
    )
    window.analysis.beam_tree.nodeSelected.emit(other)
    path = tree.path(other)
    view = window.caption_view
    assert len(view.chips.chips) == len(path) == view.strip.thumbnail_count()
    expected = snapshot.node_attention[path][-1, 0].reshape(GRID)
    np.testing.assert_allclose(view.shown_grid(), expected, atol=1e-6)


# -- exports ----------------------------------------------------------------------------------
def test_exports_write_files_that_open(qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 4})
    snapshot = run_to_end(qtbot, window)
    window.select_step(1)
    exporter = window.captioning.exporter
    exporter.overlay_png(str(tmp_path / "overlay.png"))
    exporter.strip_png(str(tmp_path / "strip.png"))
    exporter.grids_npy(str(tmp_path / "grids.npy"))
    exporter.decode_json(str(tmp_path / "decode.json"))
    height, width = snapshot.image.shape[:2]
    overlay = Image.open(tmp_path / "overlay.png")
    assert overlay.size == (width, height)
    assert not np.array_equal(np.asarray(overlay.convert("RGB")), snapshot.image)
    strip = Image.open(tmp_path / "strip.png")
    assert strip.size[0] > len(snapshot.steps) * 100
    grids = np.load(tmp_path / "grids.npy")
    assert grids.shape == (len(snapshot.steps), 1, *GRID)
    np.testing.assert_allclose(grids.reshape(len(snapshot.steps), 1, -1), snapshot.attention)
    payload = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    assert payload["caption"] == snapshot.target_text
    assert payload["image"] == Path(snapshot.source_text).name
    assert payload["grid"] == list(GRID)
    assert np.asarray(payload["attention"]).shape == grids.shape
    assert len(payload["steps"]) == len(snapshot.steps)


def test_export_before_any_word_says_so(qtbot, window, captioner):
    load_captioner(qtbot, window, captioner)
    from attnscope.gui.caption_controller import _ask_and_export

    _ask_and_export(window, window.captioning.exporter, "PNG (*.png)", ".png", "strip_png")
    assert "Nothing to export" in window.message_bar.text()


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
    monkeypatch.setattr("attnscope.gui.caption_view.MAX_IMAGE_PIXELS", 100)
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
    assert window.snapshot is None


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
