"""Drive the real main window as a user would: offscreen, real worker thread."""

import itertools
import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.gui.main_window import MainWindow


def drop_files(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


def engine_attention(checkpoint, steps):
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(SOURCE, DecodeConfig())
    for _ in range(steps):
        opened.step()
    return opened.snapshot().attention


def test_open_action_loads_and_shows_the_model(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *a, **k: (str(tiny_translation_checkpoint), "")
    )
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.open_action.trigger()
    assert window.state.summary.task == "translation"
    assert window.model_panel.labels["task"].text() == "translation"
    assert "GRU" in window.model_panel.labels["architecture"].text()
    assert window.workspaces.currentWidget() is window.translate_view
    assert window.recent.paths()[0] == str(Path(tiny_translation_checkpoint).resolve())


def test_drop_a_checkpoint_then_a_bad_file(qtbot, window, tiny_translation_checkpoint, tmp_path):
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        drop_files(window, [tiny_translation_checkpoint])
    bad = tmp_path / "notes.safetensors"
    bad.write_bytes(b"this is not a checkpoint at all")
    with qtbot.waitSignal(window.client.worker.loadFailed, timeout=TIMEOUT):
        drop_files(window, [bad])
    qtbot.waitUntil(lambda: "notes.safetensors" in window.message_bar.text())
    # the previous model is still there and still translates
    assert window.state.summary.name == Path(tiny_translation_checkpoint).name
    window.translate_view.set_source(SOURCE)
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.target_pieces


def test_step_three_times_back_and_heatmap_matches_engine(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    for expected in (1, 2, 3):
        wait_snapshot(qtbot, window, window.step, lambda s, n=expected: len(s.steps) == n)
    heatmap = window.translate_view.heatmap
    source_len = len(window.state.snapshot.source_pieces)
    assert heatmap.matrix().shape == (3, source_len)
    reference = engine_attention(tiny_translation_checkpoint, 3)
    np.testing.assert_allclose(heatmap.matrix(), reference[:, 0, :], atol=1e-6)
    qtbot.waitUntil(lambda: len(window.translate_view.chips.chips) == 3)  # a view job of its own
    wait_snapshot(qtbot, window, window.back, lambda s: len(s.steps) == 2)
    assert heatmap.matrix().shape == (2, source_len)


def test_force_candidate_changes_target_from_that_step(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    for expected in (1, 2, 3):
        wait_snapshot(qtbot, window, window.step, lambda s, n=expected: len(s.steps) == n)
    before = window.state.snapshot.steps
    window.select_step(1)
    alternative = int(before[1].topk_ids[1])  # the runner-up at step 2
    wait_snapshot(
        qtbot,
        window,
        lambda: window.force_token(alternative),
        lambda s: s.done and len(s.steps) >= 2 and s.steps[1].token_id == alternative,
    )
    after = window.state.snapshot.steps
    assert after[0].token_id == before[0].token_id
    assert after[1].token_id == alternative and after[1].forced


def test_run_to_the_end_and_export(qtbot, window, tiny_translation_checkpoint, tmp_path):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert not window.decode_actions.run.isChecked()
    rows = len(snapshot.steps)
    exporter = window.exporter
    exporter.heatmap_png(str(tmp_path / "a.png"))
    exporter.heatmap_svg(str(tmp_path / "a.svg"))
    exporter.matrix_csv(str(tmp_path / "a.csv"))
    exporter.matrix_npy(str(tmp_path / "a.npy"))
    exporter.decode_json(str(tmp_path / "a.json"))
    from PIL import Image

    assert Image.open(tmp_path / "a.png").size[0] > 50
    assert "<svg" in (tmp_path / "a.svg").read_text(encoding="utf-8")
    csv_lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv_lines) == rows + 1
    assert np.load(tmp_path / "a.npy").shape[0] == rows
    payload = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert payload["source"] == SOURCE and len(payload["steps"]) == rows
    assert payload["settings"]["strategy"] == "greedy" and "reference_check" not in payload
    exporter.alignment_txt(str(tmp_path / "a.txt"))
    links = (tmp_path / "a.txt").read_text(encoding="utf-8").strip()
    assert links == payload["alignment"]
    assert all(int(s) < 5 for s, _ in (pair.split("-") for pair in links.split()))


def test_alignment_export_of_a_model_without_attention_says_why(
    qtbot, window, tiny_plain_checkpoint, tmp_path, monkeypatch
):
    load(qtbot, window, tiny_plain_checkpoint)
    window.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    target = tmp_path / "links.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    window.exporter.ask_and_export("Text (*.txt)", ".txt", "alignment_txt")
    assert "no attention to read word alignments from" in window.message_bar.text()
    assert not target.exists()


def test_beam_node_selection_changes_heatmap(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3})
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert snapshot.tree is not None and len(snapshot.tree) > 3
    heatmap = window.translate_view.heatmap
    before = heatmap.matrix().copy()
    other = next(
        n
        for n in range(1, len(snapshot.tree))
        if n not in snapshot.tree.path(snapshot.best_node) and snapshot.tree.steps[n] >= 1
    )
    window.analysis.beam_tree.nodeSelected.emit(other)
    path = snapshot.tree.path(other)
    assert heatmap.matrix().shape[0] == len(path)
    np.testing.assert_allclose(heatmap.matrix(), snapshot.node_attention[path][:, 0, :])
    assert heatmap.matrix().shape != before.shape or not np.allclose(heatmap.matrix(), before)


def test_beam_tree_is_drawn_as_its_own_view_job_after_the_snapshot(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3})
    tree_view = window.analysis.beam_tree
    drawn_when_shown = []
    window.snapshotShown.connect(lambda _s: drawn_when_shown.append(tree_view.node_count()))
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert drawn_when_shown[-1] < len(snapshot.tree)  # not inside the snapshot's paint
    qtbot.waitUntil(lambda: tree_view.node_count() == len(snapshot.tree), timeout=TIMEOUT)
    assert tree_view.selected() == snapshot.best_node
    assert not window.frames.pending("tree")


def test_a_tree_that_grew_a_lot_is_drawn_over_several_jobs(
    qtbot, window, tiny_translation_checkpoint, monkeypatch
):
    from attnscope.gui import panels

    monkeypatch.setattr(panels, "TREE_CHUNK_NODES", 4)
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3})
    tree_view = window.analysis.beam_tree
    sizes = []
    set_tree = tree_view.set_tree
    monkeypatch.setattr(
        tree_view, "set_tree", lambda nodes: (sizes.append(len(nodes)), set_tree(nodes))
    )
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    qtbot.waitUntil(lambda: tree_view.node_count() == len(snapshot.tree), timeout=TIMEOUT)
    grown = [b - a for a, b in itertools.pairwise(sizes) if a > 0 and b > a]
    assert all(step <= 4 for step in grown)  # never more than a chunk on top of a drawn tree
    assert tree_view.selected() == snapshot.best_node


def test_empty_source_gives_a_message_not_a_crash(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source("   ")
    window.step()
    assert "Enter a source" in window.message_bar.text()


def test_close_mid_run_stops_the_worker(qtbot, tiny_translation_checkpoint, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    win = MainWindow(settings=settings, device="cpu")
    load(qtbot, win, tiny_translation_checkpoint)
    win.translate_view.set_source(SOURCE)
    win.decode_settings.set_values({"strategy": "beam", "beam_size": 8, "max_length": 400})
    win.decode_actions.run.setChecked(True)
    with qtbot.waitSignal(win.snapshotShown, timeout=TIMEOUT):
        win.toggle_run()
    win.close()
    assert win.client.thread.isFinished()
    assert settings.value("session/source") == SOURCE


def test_device_menu_lists_the_workers_devices_and_reloads(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    names = [a.data() for a in window.device_group.actions()]
    assert names[0] == "auto" and "cpu" in names
    cpu = next(a for a in window.device_group.actions() if a.data() == "cpu")
    window.device_choice.device = "auto"
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        cpu.trigger()
    assert window.device_choice.device == "cpu" and window.state.summary.device == "cpu"
    assert window.settings.value("model/device") == "cpu"


def test_cancel_button_stops_a_file_translation(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    source = tmp_path / "many.txt"
    source.write_text("ein mann fährt fahrrad .\n" * 400, encoding="utf-8")
    out = tmp_path / "many.en.txt"
    window.translate_file(str(source), str(out))
    assert not window.cancel_batch.isHidden()
    with qtbot.waitSignal(window.client.worker.batchFinished, timeout=60_000) as finished:
        qtbot.waitSignal(window.client.worker.batchProgress, timeout=60_000).wait()
        window.cancel_batch.click()
    assert finished.args == [str(out), False]
    assert not out.exists() and (tmp_path / "many.en.txt.partial").exists()
    assert window.cancel_batch.isHidden()


def test_a_model_without_attention_says_so_instead_of_an_empty_heat_map(
    qtbot, window, tiny_translation_checkpoint, tiny_plain_checkpoint
):
    load(qtbot, window, tiny_plain_checkpoint)
    view = window.translate_view
    view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert snapshot.attention is None and snapshot.target_pieces
    assert view.attention_pages.currentWidget() is view.no_attention
    assert "no attention" in view.no_attention.text()
    # an attention model brings the heat map back, with a row per step
    load(qtbot, window, tiny_translation_checkpoint)
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert view.attention_pages.currentWidget() is view.heatmap
    assert view.heatmap.matrix().shape[0] == 1
