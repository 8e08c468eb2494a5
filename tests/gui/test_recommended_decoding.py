"""A model's recommended decoding is applied when it loads; the user's changes override it,
Ctrl+Shift+R restores it, and the status bar and the panel's note say where settings came from."""

from window_support import SOURCE, load, wait_snapshot

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.gui.decode_controls import describe_decoding

RECOMMENDED = {"strategy": "beam", "beam_size": 3, "length_penalty": "gnmt", "alpha": 1.5}


def _with_recommendation(source, target, recommended=RECOMMENDED):
    checkpoint = load_checkpoint(source)
    return save_checkpoint(
        target,
        model=checkpoint.model,
        src_tokenizer=checkpoint.src_tokenizer,
        tgt_tokenizer=checkpoint.tgt_tokenizer,
        info={**checkpoint.info, "recommended_decoding": recommended},
    )


def _shown(window, names=RECOMMENDED):
    values = window.decode_settings.values()
    return {name: values[name] for name in names}


def test_loading_applies_the_recommendation_and_says_so(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    assert window.decode_settings.values()["strategy"] == "greedy"
    load(qtbot, window, path)
    assert _shown(window) == RECOMMENDED
    assert (
        window.statusBar()
        .currentMessage()
        .startswith("Decoding as this model recommends: beam 3, GNMT length penalty α 1.5")
    )
    note = window.decode_settings.note
    assert note.isVisibleTo(window.decode_settings) and "As this model recommends" in note.text()
    action = window.recommended.action
    assert action.isEnabled() and "beam 3, GNMT length penalty α 1.5" in action.toolTip()


def test_the_decode_uses_the_recommendation_and_a_panel_change_wins(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    path = _with_recommendation(tiny_translation_checkpoint, tmp_path / "rec.safetensors")
    load(qtbot, window, path)
    window.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, window, window.step)
    assert window.state.decode_config.strategy == "beam"
    assert window.state.decode_config.beam_size == 3

    window.decode_settings.set_values({"strategy": "greedy"})  # the user overrides it
    note = window.decode_settings.note.text()
    assert note.startswith("Changed from this model's recommendation") and "Ctrl+Shift+R" in note
    wait_snapshot(qtbot, window, window.step, lambda s: s is not None)
    window.reset()
    wait_snapshot(qtbot, window, window.step)
    assert window.state.decode_config.strategy == "greedy"

    window.recommended.action.trigger()  # Ctrl+Shift+R: back to the recommendation
    assert _shown(window) == RECOMMENDED
    assert window.statusBar().currentMessage().startswith("Decoding set to beam 3")
    assert "As this model recommends" in window.decode_settings.note.text()


def test_a_model_without_one_disables_the_action_and_drops_a_stale_recommendation(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(
        qtbot, window, _with_recommendation(tiny_translation_checkpoint, tmp_path / "r.safetensors")
    )
    load(qtbot, window, tiny_translation_checkpoint)  # none here: the previous one gives way
    assert not window.recommended.action.isEnabled()
    assert "recommends no decoding" in window.recommended.action.toolTip()
    assert window.decode_settings.values()["strategy"] == "greedy"
    assert not window.decode_settings.note.isVisibleTo(window.decode_settings)
    before = window.decode_settings.values()
    window.recommended.action.trigger()
    assert window.decode_settings.values() == before


def test_the_users_own_settings_stay_when_the_next_model_recommends_nothing(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(
        qtbot, window, _with_recommendation(tiny_translation_checkpoint, tmp_path / "r.safetensors")
    )
    window.decode_settings.set_values({"beam_size": 4})  # an override of the user's
    load(qtbot, window, tiny_translation_checkpoint)
    assert window.decode_settings.values()["beam_size"] == 4


def test_fields_a_recommendation_leaves_out_get_the_defaults(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    window.decode_settings.set_values({"max_length": 7, "length_penalty": "average"})
    beam = {"strategy": "beam", "beam_size": 2}
    load(
        qtbot,
        window,
        _with_recommendation(tiny_translation_checkpoint, tmp_path / "b.safetensors", beam),
    )
    values = window.decode_settings.values()
    assert (values["beam_size"], values["max_length"], values["length_penalty"]) == (2, 100, "none")
    assert window.recommended.in_use()


def test_describe_decoding():
    assert describe_decoding({"strategy": "greedy"}) == "greedy"
    assert describe_decoding({"strategy": "beam", "beam_size": 4}) == "beam 4"
    assert describe_decoding(RECOMMENDED) == "beam 3, GNMT length penalty α 1.5"
    assert describe_decoding({"strategy": "beam", "length_penalty": "average"}) == (
        "beam 5, average length penalty"
    )
    assert describe_decoding({"strategy": "beam", "beam_size": 3, "max_length": 30}) == (
        "beam 3, at most 30 tokens"
    )
