"""A warning when no installed font can show the source's script."""

import pytest
from PySide6.QtGui import QFontDatabase
from window_support import load, wait_snapshot

from attnscope.gui import fonts


def test_scripts_are_found_by_code_point():
    assert fonts.scripts_in("Ein Mann fährt Fahrrad.") == []
    assert fonts.scripts_in("我想喝一杯热茶。") == ["Chinese"]
    assert fonts.scripts_in("ひらがなと漢字") == ["Chinese", "Japanese kana"]
    assert fonts.scripts_in("한국어") == ["Korean"]


def test_missing_font_is_reported_once_per_script(qapp, monkeypatch):
    monkeypatch.setattr(QFontDatabase, "families", staticmethod(lambda *system: []))
    warned: set[str] = set()
    message = fonts.missing_font_message("我想喝茶", warned)
    assert "Chinese" in message and "fonts-noto-cjk" in message
    assert fonts.missing_font_message("你好", warned) is None
    assert fonts.missing_font_message("plain Latin", set()) is None


def test_no_warning_when_some_font_declares_the_script(qapp, monkeypatch):
    monkeypatch.setattr(QFontDatabase, "families", staticmethod(lambda *system: ["Some CJK"]))
    assert fonts.missing_font_message("我想喝茶", set()) is None


@pytest.mark.parametrize("installed", [[], ["Some CJK"]])
def test_the_window_warns_when_it_opens_a_session_without_a_font(
    qtbot, window, tiny_translation_checkpoint, monkeypatch, installed
):
    monkeypatch.setattr(QFontDatabase, "families", staticmethod(lambda *system: installed))
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source("我想喝一杯热茶。")
    wait_snapshot(qtbot, window, window.step, lambda snap: len(snap.steps) == 1)
    assert ("Chinese characters" in window.message_bar.text()) == (not installed)
    assert window.state.snapshot.steps  # the decode itself went ahead
