"""A Hugging Face folder's generation_config.json is its recommended decoding in the app,
worded as the folder's (not a validation set's), with what it cannot carry named."""

from __future__ import annotations

import json

from window_support import load

from tests.engine.hf.tiny_models import save_tiny_model

SAYS = {"num_beams": 3, "max_length": 7, "no_repeat_ngram_size": 2, "repetition_penalty": 1.3}


def test_the_folders_generation_config_sets_the_panel(qtbot, window, tmp_path):
    folder = save_tiny_model(tmp_path / "marian", "marian", seed=3, eos_bias=1.0)
    path = folder / "generation_config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | SAYS))
    load(qtbot, window, folder)
    values = window.decode_settings.values()
    assert (values["strategy"], values["beam_size"], values["max_length"]) == ("beam", 3, 6)
    tip = window.recommended.action.toolTip()
    assert "as the folder's generation_config.json says" in tip
    assert "validation set" not in tip
    assert "Not honoured exactly: repetition_penalty 1.3" in tip
    assert "block_ngram_repeat 2" in tip and "max_length_ratio 0.0" in tip
    window.decode_settings.grab().save(str(tmp_path / "panel.png"))
