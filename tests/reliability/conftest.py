"""Reliability tests: the real window offscreen, and inputs shared with benchmarks/.

The long runs (``benchmarks/fuzz.py``, ``benchmarks/soak.py``) and these
short ones use the same input generators and the same scripted session, so
the benchmarks folder is put on ``sys.path`` here.
"""

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.insert(0, str(BENCHMARKS))


@pytest.fixture
def settings_path(tmp_path):
    """Where this test's window keeps its settings (and, beside them, its autosave)."""
    return tmp_path / "profile" / "settings.ini"


@pytest.fixture
def make_window(qtbot, settings_path):
    """Build real main windows on a private settings file; every one is shut down at the end."""
    from attnscope.gui.main_window import MainWindow

    made = []

    def make():
        settings = QSettings(str(settings_path), QSettings.IniFormat)
        window = MainWindow(settings=settings, device="cpu")
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.client.shutdown()


@pytest.fixture
def window(make_window):
    return make_window()
