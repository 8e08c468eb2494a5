"""Driving the captioning workspace in GUI tests: load a captioner, drop pictures, step.

The fixtures (``captioner``, ``multihead_captioner``, ``shown_window``) are in
tests/gui/conftest.py; the tiny checkpoints and awkward files in captioning_support.py.
"""

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_support import wait_first_screen, wait_snapshot

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.resources import example_images
from attnscope.gui.attention_render import normalize_attention, upsample_attention

GRID = (3, 3)  # the ``captioner`` fixture's attention grid


def load_captioner(qtbot, window, path):
    """Load ``path``; the window opens the first example picture by itself."""
    first = str(example_images()[0])
    wait_snapshot(
        qtbot, window, lambda: window.load_checkpoint(str(path)), lambda s: s.source_text == first
    )
    wait_first_screen(qtbot, window)  # and captions it to the end (decode_on_load)
    return window.state.snapshot


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
    """Step until ``count`` words are shown; a finished decode (the first screen's) or a
    longer one starts over from the top first."""
    shown = window.state.snapshot
    if shown is not None and (shown.done or len(shown.steps) > count):
        wait_snapshot(qtbot, window, window.reset, lambda s: len(s.steps) == 0)
    for n in range(len(window.state.snapshot.steps) + 1, count + 1):
        wait_snapshot(qtbot, window, window.step, lambda s, n=n: len(s.steps) == n)
    return window.state.snapshot


def run_to_end(qtbot, window):
    """Run a new decode to the end (a late paint of the shown, finished one does not count)."""
    before = window.state.snapshot
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done and s is not before)


def engine_snapshot(checkpoint, source, steps):
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(source, DecodeConfig())
    for _ in range(steps):
        opened.step()
    return opened.snapshot()


def shown_overlay_matches(view, grid):
    """The overlay draws ``grid`` (h, w), normalised and upsampled in its current mode."""
    drawn = view.overlay.overlay_array()
    expected = upsample_attention(normalize_attention(grid), *drawn.shape, view.overlay.mode())
    return np.allclose(drawn, expected, atol=1e-6)
