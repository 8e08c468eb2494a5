"""The app reopens the model of the last session on start: a Hugging Face folder too."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from attnscope.gui.autosave import AUTOSAVE_FILE, SavedSession, last_checkpoint


def test_the_last_sessions_folder_is_reopened_and_a_gone_one_is_not(tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    folder = tmp_path / "opus-mt-de-en"
    folder.mkdir()
    saved = SavedSession(checkpoint=str(folder), task="translation", source="Hallo")
    (tmp_path / AUTOSAVE_FILE).write_text(saved.to_json(), encoding="utf-8")
    assert last_checkpoint(settings) == str(folder)
    folder.rmdir()
    assert last_checkpoint(settings) is None
