"""Driving the real main window in GUI and reliability tests: load, wait for a drawn snapshot."""

SOURCE = "ein mann fährt fahrrad ."
TIMEOUT = 20_000


def load(qtbot, window, path):
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.load_checkpoint(str(path))


def wait_snapshot(qtbot, window, action, check=lambda s: True):
    """Trigger ``action`` and wait for a shown snapshot that satisfies ``check``."""
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT, check_params_cb=check):
        action()
    return window.state.snapshot
