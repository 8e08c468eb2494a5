"""A multilingual folder's language pair comes back with a saved session and with the
autosave: the worker is asked for the pair before the replay, so the decode is whole."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings
from window_support import TIMEOUT, load, wait_snapshot

from attnscope.engine.hf.multilingual import chosen_pair
from attnscope.gui.autosave import AUTOSAVE_FILE, AUTOSAVE_VERSION
from tests.engine.hf.tiny_multilingual import save_tiny_multilingual

SOURCE = "the cat sat"
PAIR = ("fra_Latn", "deu_Latn")  # not the folder's default (eng_Latn -> fra_Latn)


@pytest.fixture(scope="module")
def nllb(tmp_path_factory):
    return save_tiny_multilingual(tmp_path_factory.mktemp("nllb"), "nllb", seed=7, eos_bias=1.0)


def _window(qtbot, folder):
    from attnscope.gui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(folder / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    return win


def _expected_tokens(folder, steps: int) -> list[int]:
    """The tokens the engine decodes on PAIR, the first ``steps`` of them."""
    from attnscope.engine.decoding.config import DecodeConfig
    from attnscope.engine.hf.inference import load_hf_inference_model

    model = load_hf_inference_model(folder)
    model.set_languages(source=PAIR[0], target=PAIR[1])
    opened = model.open_session(SOURCE, DecodeConfig(strategy="greedy", max_length=8))
    opened.run(until=steps)
    return [s.token_id for s in opened.snapshot().steps]


def test_a_saved_session_reopens_on_its_pair(qtbot, window, nllb, tmp_path):
    load(qtbot, window, nllb)
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        window.client.set_languages(*PAIR)
    window.translate_view.set_source(SOURCE)
    for _ in range(2):
        shown = wait_snapshot(qtbot, window, window.step)
    path = tmp_path / "nllb.attnscope-session"
    with qtbot.waitSignal(window.session_files.saved, timeout=TIMEOUT):
        window.session_files.save_to(path)
    fresh = _window(qtbot, tmp_path / "fresh")
    try:
        with qtbot.waitSignal(fresh.session_files.replayChecked, timeout=TIMEOUT) as blocker:
            fresh.session_files.open_path(path)
        check = blocker.args[0]
        assert check.matches and check.attention_identical, check.message
        assert chosen_pair(fresh.state.summary.info) == PAIR  # the panel shows the pair too
        assert [s.token_id for s in fresh.state.snapshot.steps] == [s.token_id for s in shown.steps]
    finally:
        fresh.client.shutdown()


def test_the_autosave_restores_the_pair_before_its_replay(qtbot, nllb, tmp_path):
    tokens = _expected_tokens(nllb, 2)
    saved = {
        "version": AUTOSAVE_VERSION,
        "checkpoint": str(nllb),
        "task": "translation",
        "source": SOURCE,
        "settings": {"strategy": "greedy", "max_length": 8},
        "plan": [None, None],
        "tokens": tokens,
        "languages": list(PAIR),
    }
    (tmp_path / AUTOSAVE_FILE).write_text(json.dumps(saved), encoding="utf-8")
    window = _window(qtbot, tmp_path)
    messages = []
    window.show_message = lambda text, level="info": messages.append(text)
    try:
        window.load_checkpoint(str(nllb))
        qtbot.waitUntil(
            lambda: (
                window.state.summary is not None
                and chosen_pair(window.state.summary.info) == PAIR
                and window.state.snapshot is not None
                and len(window.state.snapshot.steps) == 2
            ),
            timeout=TIMEOUT,
        )
        assert [s.token_id for s in window.state.snapshot.steps] == tokens
        assert not [m for m in messages if "only in part" in m]
        assert not window.decode_actions.run.isChecked()  # no decode of its own
    finally:
        window.client.shutdown()


@pytest.mark.parametrize(
    "languages", ["fra_Latn", ["fra_Latn"], ["fra_Latn", 3], ["fra_Latn", "a" * 33], ["x y", "z"]]
)
def test_a_malformed_saved_pair_leaves_the_autosave_unread(tmp_path, languages):
    from attnscope.gui.autosave import read_saved_session

    saved = {
        "version": AUTOSAVE_VERSION,
        "checkpoint": "model",
        "task": "translation",
        "source": SOURCE,
        "settings": {},
        "plan": [],
        "languages": languages,
    }
    (tmp_path / AUTOSAVE_FILE).write_text(json.dumps(saved), encoding="utf-8")
    assert read_saved_session(tmp_path) is None
    saved["languages"] = list(PAIR)
    (tmp_path / AUTOSAVE_FILE).write_text(json.dumps(saved), encoding="utf-8")
    assert read_saved_session(tmp_path).languages == PAIR


def test_a_code_the_folder_lacks_shows_the_stored_decode_with_one_message(
    qtbot, window, nllb, tmp_path
):
    from attnscope.engine.decoding.config import DecodeConfig
    from attnscope.engine.hf.inference import load_hf_inference_model
    from attnscope.engine.session_file import (
        SessionInput,
        session_from_snapshot,
        write_session_file,
    )
    from attnscope.engine.session_replay import checkpoint_ref

    config = DecodeConfig(strategy="greedy", max_length=8)
    opened = load_hf_inference_model(nllb).open_session(SOURCE, config)
    opened.run(until=2)
    session = session_from_snapshot(
        opened.snapshot(),
        task="translation",
        checkpoint=checkpoint_ref(nllb),
        settings=config,
        source=SessionInput(text=SOURCE),
        languages=("eng_Latn", "xxx_Yyyy"),
    )
    path = write_session_file(tmp_path / "bad.attnscope-session", session)
    messages = []
    window.session_files._show_message = lambda text, *args, **kw: messages.append(text)
    with qtbot.waitSignal(window.session_files.opened, timeout=TIMEOUT):
        window.session_files.open_path(path)
    assert len(messages) == 1 and "unknown target language 'xxx_Yyyy'" in messages[0]
    assert "stored decode" in messages[0]
    assert chosen_pair(window.state.summary.info) == ("eng_Latn", "fra_Latn")  # unchanged
    # the app still decodes, on the folder's own pair: F10's paint may come first with no
    # step yet (a live session opening), so wait for one with steps
    shown = wait_snapshot(qtbot, window, window.step, check=lambda s: bool(s.steps))
    assert shown.steps[0].piece == "fra_Latn"
