"""File > Save session / Open session in the real window: a bit-exact round trip into a fresh
window, a moved checkpoint (the dialog patched), a wrong hash, a missing model (the stored
decode shown read-only), and refusals that leave the window working."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

FORCED_TOKEN = 10


@pytest.fixture
def fresh_window(qtbot, tmp_path):
    """A second window with its own settings (and so its own autosave)."""
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "fresh" / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    yield win
    win.client.shutdown()


def decode_with_a_forced_token(qtbot, window, checkpoint):
    """Three steps, the token at step 1 replaced (the rest dropped), then two more steps."""
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    for _ in range(3):
        wait_snapshot(qtbot, window, window.step)
    wait_snapshot(qtbot, window, lambda: window.client.force(FORCED_TOKEN, 1))
    for _ in range(2):
        shown = wait_snapshot(qtbot, window, window.step)
    assert len(shown.steps) == 4
    return shown


def save(qtbot, window, path):
    with qtbot.waitSignal(window.session_files.saved, timeout=TIMEOUT):
        window.session_files.save_to(path)
    return path


def open_and_check(qtbot, window, path):
    with qtbot.waitSignal(window.session_files.replayChecked, timeout=TIMEOUT) as blocker:
        window.session_files.open_path(path)
    return blocker.args[0]


def assert_same(a, b):
    assert [s.token_id for s in a.steps] == [s.token_id for s in b.steps]
    assert a.attention.tobytes() == b.attention.tobytes()
    for x, y in zip(a.steps, b.steps, strict=True):
        assert x.topk_ids.tolist() == y.topk_ids.tolist()
        assert x.topk_probs.tobytes() == y.topk_probs.tobytes()
        assert (x.forced, x.piece, x.log_prob) == (y.forced, y.piece, y.log_prob)


def test_a_saved_session_opens_bit_for_bit_in_a_fresh_window(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path
):
    shown = decode_with_a_forced_token(qtbot, window, tiny_translation_checkpoint)
    assert shown.steps[1].forced and shown.steps[1].token_id == FORCED_TOKEN
    path = save(qtbot, window, tmp_path / "forced.attnscope-session")
    assert path.name in window.message_bar.text()
    files = fresh_window.session_files
    opening = []  # what the window sees as its model loads: a file opening, so no decode of its own
    fresh_window.modelLoaded.connect(lambda _summary: opening.append(files.opening))
    check = open_and_check(qtbot, fresh_window, path)
    assert [session is not None for session in opening] == [True] and files.opening is None
    with pytest.raises(AttributeError):
        files.opening = None  # read-only
    assert check.matches and check.attention_identical
    assert "reproduces" in fresh_window.message_bar.text()
    assert fresh_window.state.summary.path == str(tiny_translation_checkpoint)
    assert fresh_window.translate_view.source() == SOURCE
    qtbot.waitUntil(lambda: fresh_window.state.snapshot is not None)
    assert_same(shown, fresh_window.state.snapshot)
    # the session is live: Back works on it
    wait_snapshot(
        qtbot, fresh_window, fresh_window.back, lambda s: len(s.steps) == len(shown.steps) - 1
    )


def test_a_moved_checkpoint_is_asked_for(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path, monkeypatch
):
    copy = tmp_path / "moving.safetensors"
    shutil.copy(tiny_translation_checkpoint, copy)
    decode_with_a_forced_token(qtbot, window, copy)
    path = save(qtbot, window, tmp_path / "moved.attnscope-session")
    moved = tmp_path / "elsewhere" / "moving.safetensors"
    moved.parent.mkdir()
    shutil.move(copy, moved)
    asked = []

    def locate(parent, title, folder, filter_):
        asked.append(title)
        return str(moved), filter_

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(locate))
    check = open_and_check(qtbot, fresh_window, path)
    assert asked == ["Locate moving.safetensors"]
    assert check.matches and fresh_window.state.summary.path == str(moved)


def test_without_its_model_the_stored_decode_is_shown_read_only(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path, monkeypatch
):
    copy = tmp_path / "gone.safetensors"
    shutil.copy(tiny_translation_checkpoint, copy)
    shown = decode_with_a_forced_token(qtbot, window, copy)
    path = save(qtbot, window, tmp_path / "orphan.attnscope-session")
    copy.unlink()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: ("", "")))
    with qtbot.waitSignal(fresh_window.session_files.opened, timeout=TIMEOUT):
        fresh_window.session_files.open_path(path)
    text = fresh_window.message_bar.text()
    assert "read-only" in text and "gone.safetensors was not found" in text
    assert fresh_window.state.summary is None
    assert_same(shown, fresh_window.state.snapshot)
    assert fresh_window.workspaces.currentWidget() is fresh_window.translate_view
    # and it can be saved again as it is
    again = save(qtbot, fresh_window, tmp_path / "again.attnscope-session")
    assert again.stat().st_size > 0


def test_a_checkpoint_with_another_hash_is_refused_and_the_stored_decode_shown(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tiny_multihead_checkpoint, tmp_path
):
    copy = tmp_path / "swapped.safetensors"
    shutil.copy(tiny_translation_checkpoint, copy)
    shown = decode_with_a_forced_token(qtbot, window, copy)
    path = save(qtbot, window, tmp_path / "swapped.attnscope-session")
    shutil.copy(tiny_multihead_checkpoint, copy)  # another model under the same name
    with qtbot.waitSignal(fresh_window.session_files.opened, timeout=TIMEOUT):
        fresh_window.session_files.open_path(path)
    text = fresh_window.message_bar.text()
    assert "is not the checkpoint this session was made with" in text and "read-only" in text
    assert fresh_window.state.summary is None  # the other model was never loaded
    assert_same(shown, fresh_window.state.snapshot)


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def test_a_dropped_session_opens_and_a_broken_one_gives_a_message(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path
):
    shown = decode_with_a_forced_token(qtbot, window, tiny_translation_checkpoint)
    path = save(qtbot, window, tmp_path / "dropped.attnscope-session")
    broken = tmp_path / "broken.attnscope-session"
    broken.write_bytes(b"not a zip at all")
    _drop(fresh_window, broken)
    qtbot.waitUntil(lambda: "broken.attnscope-session" in fresh_window.message_bar.text())
    assert fresh_window.message_bar.level == "error"
    assert "not a zip archive" in fresh_window.message_bar.text()
    with qtbot.waitSignal(fresh_window.session_files.replayChecked, timeout=TIMEOUT):
        _drop(fresh_window, path)
    assert_same(shown, fresh_window.state.snapshot)


def test_saving_before_any_decode_says_so(qtbot, window, tmp_path):
    window.session_files.save_to(tmp_path / "nothing.attnscope-session")
    assert "Nothing to save yet" in window.message_bar.text()
    assert not (tmp_path / "nothing.attnscope-session").exists()


def test_the_actions_are_in_the_file_menu_with_free_shortcuts(window):
    files = window.session_files
    titles = [a.text() for a in window.menus.file_menu.actions()]
    assert "Open &session…" in titles and "&Save session…" in titles
    shortcuts = [a.shortcut().toString() for a in window.findChildren(type(files.save_action))]
    for action in (files.save_action, files.open_action):
        assert shortcuts.count(action.shortcut().toString()) == 1
        assert action.shortcut().toString() in action.toolTip()


# -- every intervention and the breakpoints (issue 18) ---------------------------------------
EDITED_STEP = 3


def decode_with_a_forced_token_and_an_edit(qtbot, window, checkpoint):
    """The forced decode, then step 3's attention pinned on source position 0, one step more."""
    from attnscope.engine.interventions import pin

    shown = decode_with_a_forced_token(qtbot, window, checkpoint)
    weights = pin(shown.attention[EDITED_STEP], 0)  # (heads, S)
    with qtbot.waitSignal(window.client.worker.whatIfBase, timeout=TIMEOUT):
        window.client.edit_attention(EDITED_STEP, weights)
    qtbot.waitUntil(lambda: len(window.state.snapshot.interventions) == 2, timeout=TIMEOUT)
    return wait_snapshot(qtbot, window, window.step), weights


def test_a_forced_token_and_an_attention_edit_replay_bit_for_bit_in_a_fresh_window(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path
):
    from attnscope.engine.interventions import AttentionEdit, ForceToken
    from attnscope.engine.session_file import read_session_file

    shown, weights = decode_with_a_forced_token_and_an_edit(
        qtbot, window, tiny_translation_checkpoint
    )
    expected = (ForceToken(1, FORCED_TOKEN), AttentionEdit(EDITED_STEP, weights))
    assert shown.interventions == expected  # the worker session's own list
    path = save(qtbot, window, tmp_path / "edited.attnscope-session")
    assert read_session_file(path).interventions == expected
    with qtbot.waitSignal(fresh_window.session_files.interventionsRestored) as restored:
        check = open_and_check(qtbot, fresh_window, path)
    assert restored.args[0] == expected
    assert check.matches and check.attention_identical
    assert_same(shown, fresh_window.state.snapshot)
    assert fresh_window.state.snapshot.interventions == expected  # live again: saved again
    text = fresh_window.message_bar.text()
    forced = shown.steps[1].piece.strip("▁")  # steps are counted from 1 in messages
    assert f"step 2: '{forced}' forced" in text
    assert f"step {EDITED_STEP + 1}: attention edited" in text


def test_the_breakpoints_go_into_the_file_and_back_into_the_dock(
    qtbot, window, fresh_window, tiny_translation_checkpoint, tmp_path
):
    dock = window.breakpoints_dock
    dock.set_checked("entropy", True)
    dock.set_value("entropy", "threshold", 2.5)
    dock.set_checked("no_eos", True)
    dock.set_value("no_eos", "max_steps", 40)
    dock.set_checked("repeated_ngram", True)
    saved = dock.condition_dicts()
    assert len(saved) == 3
    decode_with_a_forced_token(qtbot, window, tiny_translation_checkpoint)
    path = save(qtbot, window, tmp_path / "breakpoints.attnscope-session")
    fresh_dock = fresh_window.breakpoints_dock
    fresh_dock.set_checked("over_covered", True)  # unchecked by the file's set
    with qtbot.waitSignal(fresh_dock.changed):
        open_and_check(qtbot, fresh_window, path)
    assert fresh_dock.condition_dicts() == saved
    assert fresh_window.state.breakpoints == saved  # and sent on to the worker


def test_a_masked_caption_session_masks_again_and_replays_bit_for_bit(
    qtbot, window, fresh_window, captioner, tmp_path
):
    import numpy as np
    from caption_window_support import load_captioner, run_to_end

    from attnscope.engine.interventions import ImageMask
    from attnscope.engine.session_file import read_session_file

    load_captioner(qtbot, window, captioner)
    original = run_to_end(qtbot, window)
    view, what_if = window.caption_view, window.image_what_if
    height, width = original.image.shape[:2]
    view.masks.add_rect(0, 0, width / 2, height)
    view.mask_bar.set_fill("noise")
    view.mask_bar.recaption_action.trigger()
    qtbot.waitUntil(lambda: what_if.result is not None, timeout=TIMEOUT)
    masked = what_if.result.snapshot
    mask = ImageMask(view.masks.mask(), "noise", 0)
    path = save(qtbot, window, tmp_path / "masked.attnscope-session")
    assert read_session_file(path).interventions == (mask,)
    check = open_and_check(qtbot, fresh_window, path)
    assert check.matches and check.attention_identical
    replayed = fresh_window.state.snapshot
    assert_same(masked, replayed)
    assert np.array_equal(replayed.image, masked.image)  # the picture masked again
    assert "masked with noise" in fresh_window.message_bar.text()
    # with the original shown, the original is saved, and the mask is not part of it
    view.what_if_panel.switch.click()
    plain = save(qtbot, window, tmp_path / "original.attnscope-session")
    stored = read_session_file(plain)
    assert stored.interventions == () and stored.decode.token_ids.tolist() == [
        s.token_id for s in original.steps
    ]
