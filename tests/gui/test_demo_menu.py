"""File > Open demo model: bundled checkpoints listed by their headers, opened here or
in a second window."""

import shutil
import sys
from pathlib import Path

import pytest

from attnscope.engine.checkpoint import read_checkpoint_info
from attnscope.gui.demo_menu import DemoMenus, demo_label

TIMEOUT = 20_000


@pytest.fixture
def demo_folder(tmp_path, tiny_translation_checkpoint, tiny_multihead_checkpoint):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(tiny_translation_checkpoint, folder / "a-additive.safetensors")
    shutil.copy(tiny_multihead_checkpoint, folder / "b-multihead.safetensors")
    (folder / "c-broken.safetensors").write_bytes(b"\x00\x01 not a checkpoint")
    return folder


def attach(window, folder, launched):
    def launcher(program, arguments):
        launched.append((program, list(arguments)))
        return True

    return DemoMenus(
        window.menuBar().actions()[0].menu(),
        before=window.recent_menu.menuAction(),
        load_checkpoint=window.load_checkpoint,
        show_message=window.show_message,
        show_status=window.statusBar().showMessage,
        checkpoints=lambda: sorted(folder.glob("*.safetensors")),
        launcher=launcher,
    )


def test_labels_name_task_attention_heads_and_score(tiny_multihead_checkpoint):
    info = read_checkpoint_info(tiny_multihead_checkpoint)
    info["training_info"] = {"scores": {"val_bleu_greedy": 27.3657}}
    label = demo_label(info)
    assert label.startswith(Path(tiny_multihead_checkpoint).stem + " — translation, multihead")
    assert f"{info['heads']} heads" in label
    assert label.endswith("(val BLEU 27.4)")
    assert "no attention" in demo_label({**info, "attention": "none"})


def test_labels_name_the_language_pair_when_the_checkpoint_records_it(tiny_multihead_checkpoint):
    info = read_checkpoint_info(tiny_multihead_checkpoint)
    info["training_info"] = {"source_language": "de", "target_language": "en"}
    assert " — German → English, multihead attention" in demo_label(info)
    captioner = {**info, "task": "captioning", "training_info": {"target_language": "en"}}
    assert " — image → English, " in demo_label(captioner)


def test_menu_lists_every_bundled_model_and_opens_one_here(qtbot, window, demo_folder):
    menus = attach(window, demo_folder, [])
    menus.here.aboutToShow.emit()
    actions = menus.here.actions()
    assert [a.text().split(" — ")[0] for a in actions] == ["a-additive", "b-multihead", "c-broken"]
    assert "multihead" in actions[1].text()
    assert actions[2].text().endswith("unreadable") and not actions[2].isEnabled()
    assert "c-broken.safetensors" in actions[2].toolTip()
    assert "decoder:" in actions[0].toolTip()
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        actions[1].trigger()
    assert window.state.summary.name == "b-multihead.safetensors"
    # the menu is rebuilt, not appended to, each time it opens
    menus.here.aboutToShow.emit()
    assert len(menus.here.actions()) == 3


def test_new_window_starts_a_second_process_on_that_checkpoint(window, demo_folder):
    launched = []
    menus = attach(window, demo_folder, launched)
    menus.elsewhere.aboutToShow.emit()
    menus.elsewhere.actions()[0].trigger()
    assert launched == [
        (sys.executable, ["-m", "attnscope", "gui", str(demo_folder / "a-additive.safetensors")])
    ]
    assert "new window" in window.statusBar().currentMessage()


def test_a_refused_launch_says_so_and_the_window_keeps_working(window, demo_folder):
    menus = DemoMenus(
        window.menuBar().actions()[0].menu(),
        before=window.recent_menu.menuAction(),
        load_checkpoint=window.load_checkpoint,
        show_message=window.show_message,
        show_status=window.statusBar().showMessage,
        checkpoints=lambda: sorted(demo_folder.glob("*.safetensors")),
        launcher=lambda program, arguments: False,
    )
    assert menus.open_new_window(str(demo_folder / "a-additive.safetensors")) is False
    assert "Could not start" in window.message_bar.text()
    assert window.isEnabled()


def test_no_bundled_models_shows_a_disabled_entry(window, tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    menus = attach(window, empty, [])
    menus.here.aboutToShow.emit()
    assert [a.text() for a in menus.here.actions()] == ["(no bundled models found)"]
    assert not menus.here.actions()[0].isEnabled()


def test_the_real_window_has_the_demo_menu_on_the_bundled_checkpoints(window):
    titles = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Open &demo model" in titles
    assert "Open demo model in a &new window" in titles
    window.demo_menus.here.aboutToShow.emit()
    names = [a.text().split(" — ")[0] for a in window.demo_menus.here.actions()]
    assert "deen-bahdanau" in names
