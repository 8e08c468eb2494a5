"""The coverage bar under the heat map's source axis: values, colours, tooltips, selection."""

import numpy as np
import pytest
from window_support import SOURCE, load, wait_snapshot

from attnscope.gui.heatmap import QtAttentionHeatmap
from attnscope.gui.heatmap_items import running_coverage

SOURCE_TOKENS = ["▁the", "▁cat", "▁sat", "</s>"]


def _heads(t: int, heads: int, s: int) -> np.ndarray:
    weights = np.random.default_rng(3).random((t, heads, s)).astype(np.float32)
    return weights / weights.sum(axis=-1, keepdims=True)


@pytest.fixture
def heatmap(qtbot):
    view = QtAttentionHeatmap()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_coverage_is_the_cumulative_head_mean_up_to_the_selected_row(heatmap):
    weights = _heads(5, 2, 4)
    heatmap.set_tokens(SOURCE_TOKENS, ["a", "b", "c", "d", "e"])
    heatmap.set_heads(weights)
    # no row selected: the newest row counts
    np.testing.assert_allclose(heatmap.coverage(), weights.mean(axis=1).sum(axis=0), rtol=1e-6)
    heatmap.select_row(1)
    expected = weights[:2].mean(axis=1).sum(axis=0)
    np.testing.assert_allclose(heatmap.coverage(), expected, rtol=1e-6)
    assert heatmap.coverage_bar().step() == 1
    np.testing.assert_allclose(running_coverage(weights, 1), expected, rtol=1e-6)


def test_coverage_follows_live_rows_and_clears(heatmap):
    heatmap.set_tokens(SOURCE_TOKENS, [])
    heatmap.append_row(np.array([1.0, 0.0, 0.0, 0.0], np.float32), "a")
    heatmap.append_row(np.array([0.5, 0.5, 0.0, 0.0], np.float32), "b")
    np.testing.assert_allclose(heatmap.coverage(), [1.5, 0.5, 0.0, 0.0])
    heatmap.clear()
    assert heatmap.coverage().size == 0 and heatmap.coverage_bar().step() is None


def test_bands_and_tooltip_text(heatmap):
    heatmap.set_tokens(SOURCE_TOKENS, ["a", "b", "c"])
    rows = [[0.9, 0.1, 0, 0], [0.9, 0.0, 0.1, 0], [0.9, 0.0, 0.1, 0]]
    heatmap.set_matrix(np.array(rows, np.float32))
    bar = heatmap.coverage_bar()
    # the breakpoints' defaults: under 0.2, over 2.5
    assert [bar.band(i) for i in range(4)] == ["over", "under", "covered", "under"]
    assert bar.describe(0, "▁the") == "'▁the': coverage 2.70 after step 3 (over-covered)"
    bar.set_thresholds(0.05, 3.0)
    assert [bar.band(i) for i in range(4)] == ["covered", "covered", "covered", "under"]
    with pytest.raises(ValueError, match="under < over"):
        bar.set_thresholds(1.0, 0.5)


def test_hovering_a_bar_shows_its_tooltip(qtbot, heatmap):
    heatmap.set_tokens(SOURCE_TOKENS, ["a", "b"])
    heatmap.set_matrix(np.array([[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1]], np.float32))
    heatmap.grab()  # apply the auto-range so the scene maps to cells
    viewbox = heatmap.plot_widget().getPlotItem().getViewBox()
    from PySide6.QtCore import QPointF

    inside_bar = viewbox.mapViewToScene(QPointF(0.5, -0.3))  # column 0, the bar band
    assert heatmap.cell_at(inside_bar) is None
    heatmap._show_coverage_tip(inside_bar)
    assert heatmap._status.text() == "'▁the': coverage 1.30 after step 2 (covered)"


def test_running_coverage_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match="T, heads, S"):
        running_coverage(np.zeros((3, 4), np.float32), 1)


def test_the_window_bar_equals_the_engine_attention_cumsum(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    for expected in (1, 2, 3):
        wait_snapshot(qtbot, window, window.step, lambda s, n=expected: len(s.steps) == n)
    attention = window.state.snapshot.attention  # (3, heads, S)
    heatmap = window.translate_view.heatmap
    np.testing.assert_allclose(heatmap.coverage(), attention.mean(1).sum(0), rtol=1e-5)
    window.select_step(0)
    qtbot.waitUntil(lambda: heatmap.coverage_bar().step() == 0)
    np.testing.assert_allclose(heatmap.coverage(), attention[0].mean(0), rtol=1e-5)


def _pixel_under(heatmap, x: float, y: float):
    """The colour the user sees at view point (x, y) of the heat map."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    widget = heatmap.plot_widget()
    viewbox = widget.getPlotItem().getViewBox()
    point = widget.mapFromScene(viewbox.mapViewToScene(QPointF(x, y)))
    return QColor(widget.grab().toImage().pixel(point.x(), point.y())).name()


def test_each_bar_is_drawn_in_its_band_colour_and_follows_the_thresholds(heatmap):
    from attnscope.gui.heatmap_items import BAR_GAP, COLOURS, HEIGHT_CAP

    heatmap.set_tokens(SOURCE_TOKENS, ["a", "b", "c"])
    rows = [[0.9, 0.1, 0.6, 0.4], [0.9, 0.0, 0.7, 0.4], [0.9, 0.0, 0.7, 0.2]]
    heatmap.set_matrix(np.array(rows, np.float32))  # coverage 2.7, 0.1, 2.0, 1.0
    heatmap.grab()
    bar = heatmap.coverage_bar()
    band = bar._band
    # the middle of each bar, which hangs from the gap beside the matrix
    heights = np.clip(heatmap.coverage() / HEIGHT_CAP, 0, 1) * band * (1 - BAR_GAP)
    middles = -BAR_GAP * band - heights / 2
    seen = [_pixel_under(heatmap, col + 0.5, middles[col]) for col in range(4)]
    assert seen == [COLOURS[b] for b in ("over", "under", "covered", "covered")]
    bar.set_thresholds(1.5, 2.2)  # same values, new bands: drawn again
    seen = [_pixel_under(heatmap, col + 0.5, middles[col]) for col in range(4)]
    assert seen == [COLOURS[b] for b in ("over", "under", "covered", "under")]
