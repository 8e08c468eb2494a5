"""GUI test fixtures: a real main window on a private settings file, shut down after."""

import pytest
from PySide6.QtCore import QSettings


@pytest.fixture
def window(qtbot, tmp_path):
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    yield win
    win.client.shutdown()
