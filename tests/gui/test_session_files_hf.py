"""A session decoded with a Hugging Face folder saves, reopens with the folder and replays;
a moved folder is asked for with a folder dialog."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog
from window_support import TIMEOUT, load, wait_snapshot

from tests.engine.hf.tiny_models import SENTENCES, save_tiny_model


@pytest.fixture
def fresh_window(qtbot, tmp_path):
    """A second window with its own settings (and so its own autosave)."""
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "fresh" / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    yield win
    win.client.shutdown()


def test_a_moved_folder_is_asked_for_and_its_session_replays(
    qtbot, window, fresh_window, tmp_path, monkeypatch
):
    folder = save_tiny_model(tmp_path / "tiny-marian", "marian", seed=3, eos_bias=2.0)
    load(qtbot, window, folder)
    window.translate_view.set_source(SENTENCES[0])
    for _ in range(2):
        wait_snapshot(qtbot, window, window.step)
    wait_snapshot(qtbot, window, lambda: window.client.force(5, 1))
    shown = wait_snapshot(qtbot, window, window.step)
    path = tmp_path / "hf.attnscope-session"
    with qtbot.waitSignal(window.session_files.saved, timeout=TIMEOUT):
        window.session_files.save_to(path)
    moved = shutil.move(folder, tmp_path / "elsewhere")
    asked = []

    def locate(parent, title):
        asked.append(title)
        return str(moved)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(locate))
    with qtbot.waitSignal(fresh_window.session_files.replayChecked, timeout=TIMEOUT) as blocker:
        fresh_window.session_files.open_path(path)
    check = blocker.args[0]
    assert asked == ["Locate tiny-marian"]
    assert check.matches and check.attention_identical, check.message
    assert fresh_window.state.summary.path == str(moved)
    replayed = fresh_window.state.snapshot
    assert [s.token_id for s in replayed.steps] == [s.token_id for s in shown.steps]
    assert replayed.steps[1].forced
