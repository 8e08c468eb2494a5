"""View > Device > Int8 weights: the loaded model switches to int8 products and back."""

from window_support import SOURCE, TIMEOUT, load, wait_first_screen, wait_snapshot


def test_the_int8_switch_requantizes_the_loaded_model_and_is_remembered(
    qtbot, window, tiny_translation_checkpoint, tmp_path
):
    load(qtbot, window, tiny_translation_checkpoint)
    action = window.menus.device_menu.int8_action
    assert action in window.menus.device_menu.menu.actions() and not action.isChecked()
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        action.trigger()
    assert window.state.summary.device == "cpu (int8 weights)"
    assert window.settings.value("model/int8", type=bool)
    wait_first_screen(qtbot, window)
    window.translate_view.set_source(SOURCE)
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) >= 1)
    assert snapshot.target_pieces
    with qtbot.waitSignal(window.modelLoaded, timeout=TIMEOUT):
        action.trigger()
    wait_first_screen(qtbot, window)
    assert window.state.summary.device == "cpu"
    assert action in window.menus.device_menu.menu.actions()  # rebuilt menu keeps it
