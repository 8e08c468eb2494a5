"""Every source token is labelled on the heat map at the default window size (upright when
lying down they would overlap); labels shrink, then the heat map scrolls to keep them (up to
50 tokens), and only beyond that do they thin."""

import pytest
from PySide6.QtCore import QSettings
from window_support import TIMEOUT, load

from attnscope.gui.main_window import MainWindow
from attnscope.gui.token_axis import MIN_FONT_SCALE, LabelLayout, fit_labels
from attnscope.gui.window_settings import DEFAULT_SIZE

WORDS = ["ein", "mann", "fährt", "fahrrad", "zwei", "hunde", "spielen", "im", "schnee", "eine"]


def _source_of(model, count: int) -> str:
    """Words of the tiny corpus, cycled, until the source has exactly ``count`` pieces."""
    from attnscope.engine.decoding import DecodeConfig

    words: list[str] = []
    for i in range(200):
        words.append(WORDS[i % len(WORDS)])
        text = " ".join(words)
        pieces = model.open_session(text, DecodeConfig()).snapshot().source_pieces
        if len(pieces) == count:
            return text
        if len(pieces) > count:
            words.pop()
    raise AssertionError(f"no source of {count} pieces")


@pytest.fixture
def default_window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, device="cpu")
    qtbot.addWidget(window)
    window.resize(*DEFAULT_SIZE)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.client.shutdown()


def _labelled_by_scrolling(window, axis, bar) -> set[int]:
    """Scroll ``bar`` from end to end (a half page at a time) and collect the cells ``axis``
    labelled; at each stop its labels are every cell in view, in a readable font."""
    step = max(1, bar.pageStep() // 2)
    seen: set[int] = set()
    for value in [*range(bar.minimum(), bar.maximum(), step), bar.maximum()]:
        bar.setValue(value)
        window.grab()  # lays out and paints the axes
        layout = axis.label_layout()
        assert layout.stride == 1 and layout.scale >= MIN_FONT_SCALE
        shown = axis.shown_indices()
        assert shown == list(range(shown[0], shown[-1] + 1))  # contiguous, none skipped
        seen.update(shown)
    return seen


def test_every_column_of_a_40_token_source_is_labelled_at_the_default_size(
    qtbot, default_window, tiny_translation_checkpoint
):
    """A decoded 40-piece source at 1280x820: every column gets its label, and so does every
    row of a 40-token translation (where the cells with a label each do not fit, the heat map
    scrolls rather than skip labels)."""
    import numpy as np

    from attnscope.engine.inference import load_inference_model

    window = default_window
    text = _source_of(load_inference_model(tiny_translation_checkpoint, device="cpu"), 40)
    window.translate_view.set_source(text)
    load(qtbot, window, tiny_translation_checkpoint)  # decoded on load (test_first_screen)
    qtbot.waitUntil(
        lambda: window.state.snapshot is not None and window.state.snapshot.done, timeout=TIMEOUT
    )
    heatmap = window.translate_view.heatmap
    assert len(window.state.snapshot.source_pieces) == 40
    qtbot.waitUntil(lambda: len(heatmap.source_tokens()) == 40, timeout=TIMEOUT)
    assert window.size().toTuple() == DEFAULT_SIZE
    axes = heatmap.plot_widget().getPlotItem()
    columns, rows = heatmap.scroll_bars()
    assert _labelled_by_scrolling(window, axes.getAxis("top"), columns) == set(range(40))
    # the tiny model's own translation has any length: rows of a 40-token one, drawn as such
    heatmap.set_tokens(heatmap.source_tokens(), [f"·word{i}" for i in range(40)])
    heatmap.set_heads(np.full((40, 1, 40), 1 / 40, dtype=np.float32))
    assert _labelled_by_scrolling(window, axes.getAxis("left"), rows) == set(range(40))


def test_a_translation_without_spaces_does_not_widen_the_window(
    qtbot, default_window, tiny_translation_checkpoint
):
    """A degenerate output ("oooo…", a tiny model's) or text without spaces has no place
    to wrap: it is clipped in its pane, the window keeps the default width (it grew to
    3326 px for 300 letters)."""
    load(qtbot, default_window, tiny_translation_checkpoint)
    label = default_window.translate_view.target_label
    label.setText("o" * 300)
    qtbot.wait(100)  # layout passes
    assert label.isVisible()
    assert default_window.minimumSizeHint().width() <= DEFAULT_SIZE[0]
    assert default_window.size().toTuple() == DEFAULT_SIZE


def test_labels_lie_down_when_they_fit_and_stand_up_when_not():
    assert fit_labels(80.0, widest=60.0, height=15.0, along=True) == LabelLayout()
    assert fit_labels(20.0, widest=60.0, height=15.0, along=True) == LabelLayout(vertical=True)
    # rows: every label while the font fits, then a smaller one
    assert fit_labels(20.0, widest=60.0, height=15.0, along=False) == LabelLayout()
    shrunk = fit_labels(13.0, widest=60.0, height=15.0, along=False)
    assert shrunk.stride == 1 and MIN_FONT_SCALE <= shrunk.scale < 1.0


@pytest.mark.parametrize("cells", [40, 100, 200, 500])
def test_thinning_starts_only_below_the_smallest_font_and_never_overlaps(cells):
    length, height = 600.0, 15.0
    layout = fit_labels(length / cells, widest=60.0, height=height, along=True)
    assert layout.vertical
    fits_all = length / cells >= MIN_FONT_SCALE * height + 1.0
    assert (layout.stride == 1) == fits_all
    assert layout.stride * length / cells >= layout.scale * height  # no overlap


def test_every_row_of_a_15_token_translation_is_labelled_at_the_default_size(
    qtbot, default_window, tiny_translation_checkpoint
):
    """The default model's example: 16 source pieces, 15 target pieces (README screenshot),
    with everything a decode shows around the heat map (the row editor under it...): all
    16 columns in view, and every row labelled (scrolled to, if the rows do not all fit)."""
    import numpy as np

    load(qtbot, default_window, tiny_translation_checkpoint)
    state = default_window.state
    qtbot.waitUntil(lambda: state.snapshot is not None and state.snapshot.done, timeout=TIMEOUT)
    default_window.grab()
    heatmap = default_window.translate_view.heatmap
    source = [f"·wort{i}" for i in range(15)] + ["</s>"]
    target = [f"·word{i}" for i in range(14)] + ["</s>"]
    heatmap.set_tokens(source, target)
    heatmap.set_heads(np.full((15, 1, 16), 1 / 16, dtype=np.float32))
    default_window.grab()
    axes = heatmap.plot_widget().getPlotItem()
    columns, rows = heatmap.scroll_bars()
    assert not columns.isVisible()
    assert axes.getAxis("top").shown_labels() == source
    assert _labelled_by_scrolling(default_window, axes.getAxis("left"), rows) == set(range(15))
