"""Driving the real main window in GUI and reliability tests: load, wait for a drawn snapshot."""

SOURCE = "ein mann fährt fahrrad ."
TIMEOUT = 20_000


def load(qtbot, window, path):
    """Load ``path`` and wait for its first screen: the decode made on load, if one started
    (gui/decode_requests.py, decode_on_load), has finished, so no answer is still on its way."""
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.load_checkpoint(str(path))
    wait_first_screen(qtbot, window)


def wait_first_screen(qtbot, window):
    """Wait until the decode a load started by itself (Run checked) has finished, or
    stopped at a breakpoint (Run unchecked either way), and its last snapshot is drawn:
    a paint still waiting would be the first ``snapshotShown`` a test then waits for."""
    run, state = window.decode_actions.run, window.state
    if run.isChecked():
        qtbot.waitUntil(lambda: not run.isChecked() and state.snapshot is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not window.frames.pending("snapshot"), timeout=TIMEOUT)


def wait_snapshot(qtbot, window, action, check=lambda s: True):
    """Trigger ``action`` and wait for a shown snapshot that satisfies ``check``."""
    with qtbot.waitSignal(window.snapshotShown, timeout=TIMEOUT, check_params_cb=check):
        action()
    return window.state.snapshot
