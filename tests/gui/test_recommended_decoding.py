"""Decode > Use the model's recommended settings: offered only when the checkpoint has them."""

from window_support import load

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.gui.decode_controls import describe_decoding

RECOMMENDED = {"strategy": "beam", "beam_size": 3, "length_penalty": "gnmt", "alpha": 1.5}


def _with_recommendation(source, target):
    checkpoint = load_checkpoint(source)
    return save_checkpoint(
        target,
        model=checkpoint.model,
        src_tokenizer=checkpoint.src_tokenizer,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        info={**checkpoint.info, "recommended_decoding": RECOMMENDED},
    )


def test_recommended_settings_are_offered_and_applied(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    assert window.decode_settings.values()["strategy"] == "greedy"
    load(qtbot, window, path)
    action = window.recommended.action
    assert action.isEnabled() and "beam 3, GNMT length penalty α 1.5" in action.toolTip()
    assert "Ctrl+Shift+R" in window.statusBar().currentMessage()  # a hint, nothing changed yet
    assert window.decode_settings.values()["strategy"] == "greedy"

    action.trigger()
    values = window.decode_settings.values()
    assert {k: values[k] for k in RECOMMENDED} == RECOMMENDED
    assert window.statusBar().currentMessage().startswith("Decoding set to beam 3")


def test_a_model_without_recommendation_disables_the_action(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(
        qtbot, window, _with_recommendation(tiny_translation_checkpoint, tmp_path / "r.safetensors")
    )
    load(qtbot, window, tiny_translation_checkpoint)  # the next model has none: nothing stale
    assert not window.recommended.action.isEnabled()
    assert "recommends no decoding" in window.recommended.action.toolTip()
    before = window.decode_settings.values()
    window.recommended.action.trigger()
    assert window.decode_settings.values() == before


def test_describe_decoding():
    assert describe_decoding({"strategy": "greedy"}) == "greedy"
    assert describe_decoding({"strategy": "beam", "beam_size": 4}) == "beam 4"
    assert describe_decoding(RECOMMENDED) == "beam 3, GNMT length penalty α 1.5"
    assert describe_decoding({"strategy": "beam", "length_penalty": "average"}) == (
        "beam 5, average length penalty"
    )


def test_no_hint_when_the_settings_already_decode_as_recommended(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    window.decode_settings.set_values({**RECOMMENDED, "alpha": 1.0})  # beam 3, another alpha
    load(qtbot, window, path)
    assert "Ctrl+Shift+R" in window.statusBar().currentMessage()  # alpha differs: hinted
    assert not window.recommended.in_use()
    window.recommended.action.trigger()
    assert window.recommended.in_use()
    window.statusBar().clearMessage()
    load(qtbot, window, path)  # loaded again with the recommended settings in place
    assert "Ctrl+Shift+R" not in window.statusBar().currentMessage()


def test_the_hint_goes_once_the_settings_match(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    """As when an autosaved session restores recommended settings after the model loaded."""
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    load(qtbot, window, path)
    assert "Ctrl+Shift+R" in window.statusBar().currentMessage()
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 4})  # not yet: kept
    assert "Ctrl+Shift+R" in window.statusBar().currentMessage()
    window.decode_settings.set_values(RECOMMENDED)
    assert window.statusBar().currentMessage() == ""
