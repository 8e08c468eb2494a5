"""GUI test fixtures: a real main window on a private settings file, shut down after."""

import pytest
from caption_window_support import GRID
from captioning_support import make_tiny_captioning_checkpoint
from PySide6.QtCore import QSettings


@pytest.fixture
def window(qtbot, tmp_path):
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    yield win
    win.client.shutdown()


@pytest.fixture
def shown_window(qtbot, tmp_path):
    """A main window shown on screen (offscreen), for tests that need real geometry."""
    from attnscope.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.client.shutdown()


@pytest.fixture(scope="session")
def captioner(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-captioner.safetensors"
    return make_tiny_captioning_checkpoint(path, grid=GRID)


@pytest.fixture(scope="session")
def multihead_captioner(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-captioner-mh.safetensors"
    return make_tiny_captioning_checkpoint(path, grid=(4, 4), attention="multihead", heads=2)
