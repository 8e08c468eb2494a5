"""After a hypothesis is chosen in the beam tree, every attention export writes what the
heat map shows (that hypothesis), not the best one; a new snapshot brings the best back."""

import numpy as np
from window_support import SOURCE, load, wait_snapshot

from attnscope.engine.alignment import hard_alignment, pharaoh
from attnscope.gui.export_actions import EXPORT_TIPS, EXPORTS


def _beam_decode(qtbot, window, checkpoint):
    load(qtbot, window, checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3, "max_length": 12})
    window.decode_actions.run.setChecked(True)
    return wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)


def _other_hypothesis(snapshot):
    """A node off the best path whose hypothesis is shorter than the best one."""
    tree, best = snapshot.tree, snapshot.tree.path(snapshot.best_node)
    return next(
        n for n in range(1, len(tree)) if n not in best and 1 <= len(tree.path(n)) != len(best)
    )


def test_every_attention_export_follows_the_chosen_hypothesis(
    qtbot, window, tiny_multihead_checkpoint, tmp_path
):
    snapshot = _beam_decode(qtbot, window, tiny_multihead_checkpoint)
    node = _other_hypothesis(snapshot)
    window.analysis.beam_tree.nodeSelected.emit(node)
    path = snapshot.tree.path(node)
    heatmap, exporter = window.translate_view.heatmap, window.exporter
    assert heatmap.heads().shape[0] == len(path) != len(snapshot.steps)

    exporter.matrix_npy(str(tmp_path / "a.npy"))
    exporter.matrix_csv(str(tmp_path / "a.csv"))
    exporter.alignment_txt(str(tmp_path / "a.txt"))
    saved = np.load(tmp_path / "a.npy")
    # (T, layers, heads, S): the RNN decoder's one layer of 4 heads
    assert saved.shape == (len(path), 1, 4, len(snapshot.source_pieces))
    saved = saved[:, 0]
    np.testing.assert_array_equal(saved, heatmap.heads())
    np.testing.assert_array_equal(saved, snapshot.node_attention[path])
    csv_rows = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(csv_rows) == len(path)
    pieces = tuple(snapshot.node_pieces[n] for n in path)
    expected = pharaoh(hard_alignment(saved, snapshot.source_pieces, pieces))
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == expected + "\n"


def test_a_new_snapshot_exports_the_decode_again(
    qtbot, window, tiny_multihead_checkpoint, tmp_path
):
    snapshot = _beam_decode(qtbot, window, tiny_multihead_checkpoint)
    window.analysis.beam_tree.nodeSelected.emit(_other_hypothesis(snapshot))
    wait_snapshot(qtbot, window, window.back)
    shown = window.state.snapshot
    window.exporter.matrix_npy(str(tmp_path / "b.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy")[:, 0], shown.attention)


def test_the_npy_entry_names_its_axes():
    labels = {method: label for label, _, _, method in EXPORTS}
    assert "(T, layers, heads, S)" in labels["matrix_npy"]
    assert "(T, layers, heads, S)" in EXPORT_TIPS["matrix_npy"]
