"""Opening an OpenNMT-py checkpoint in the app: the conversion is offered, written where
the user chose, and the result opens and decodes as onmt_translate did."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox
from window_support import TIMEOUT, wait_first_screen

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "onmt" / "lstm_brnn_general"


def _answer(monkeypatch, *, ok=True, save_as=""):
    """Script the two modal dialogs: the offer (Ok / Cancel) and the save-as path."""
    asked = []
    button = QMessageBox.StandardButton.Ok if ok else QMessageBox.StandardButton.Cancel
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or button)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(save_as), ""))
    return asked


def test_opening_an_onmt_checkpoint_converts_and_opens_it(qtbot, window, monkeypatch, tmp_path):
    source = tmp_path / "model.pt"
    shutil.copy(FIXTURE / "model.pt", source)
    target = tmp_path / "converted"  # no suffix given: .safetensors is added
    asked = _answer(monkeypatch, save_as=target)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.load_checkpoint(str(source))
    wait_first_screen(qtbot, window)
    assert "is an OpenNMT-py checkpoint" in asked[0]
    assert (tmp_path / "converted.safetensors").exists()
    assert window.state.summary.name == "converted.safetensors"
    window.translate_view.set_source("gold zebra oak")
    window.decode_actions.run.trigger()
    qtbot.waitUntil(lambda: window.state.snapshot is not None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not window.decode_actions.run.isChecked(), timeout=TIMEOUT)
    expected = (FIXTURE / "beam5.txt").read_text(encoding="utf-8").splitlines()[-1]
    assert window.state.snapshot.target_text == expected  # the model's recommended beam 5


def test_declining_the_offer_opens_nothing(qtbot, window, monkeypatch, tmp_path):
    _answer(monkeypatch, ok=False)
    loads = []
    monkeypatch.setattr(window.client, "load_checkpoint", lambda *a: loads.append(a))
    window.load_checkpoint(str(FIXTURE / "model.pt"))
    assert loads == [] and not list(tmp_path.iterdir())


def test_a_refused_conversion_is_one_message(qtbot, window, monkeypatch, tmp_path):
    import argparse

    import torch

    with torch.serialization.safe_globals([argparse.Namespace]):
        data = torch.load(FIXTURE / "model.pt", weights_only=True)
    data["opt"].coverage_attn = True  # a part AttnScope cannot map
    unsupported = tmp_path / "coverage.pt"
    torch.save(data, unsupported)
    _answer(monkeypatch, save_as=tmp_path / "out.safetensors")
    window.load_checkpoint(str(unsupported))
    window.onmt_import.wait(TIMEOUT / 1000)
    qtbot.waitUntil(lambda: window.message_bar.level == "error", timeout=TIMEOUT)
    assert "uses coverage attention" in window.message_bar.label.text()
    assert not (tmp_path / "out.safetensors").exists()
