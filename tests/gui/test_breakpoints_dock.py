"""The Breakpoints dock, and a Run on a tiny checkpoint that stops where a condition fires."""

import html

import pytest
from PySide6.QtCore import QSettings
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.decoding import EOS_ID, DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.gui.breakpoints_dock import ROWS, BreakpointsDock


@pytest.fixture
def dock(qtbot):
    view = BreakpointsDock()
    qtbot.addWidget(view)
    return view


def test_nothing_is_checked_by_default_and_every_field_has_a_tooltip(dock):
    assert dock.condition_dicts() == ()
    assert len(dock.checks) == len(ROWS) == 8
    for check in dock.checks.values():
        assert check.toolTip()
    for field in dock.fields.values():
        assert field.toolTip()


def test_checked_rows_build_the_engine_conditions(dock):
    dock.set_checked("entropy", True)
    dock.set_value("entropy", "threshold", 2.5)
    dock.set_checked("no_eos", True)
    dock.set_value("no_eos", "max_steps", 7)
    dock.set_value("no_eos", "length_ratio", 0.0)
    assert dock.condition_dicts() == (
        {"kind": "entropy", "threshold": 2.5},
        {"kind": "no_eos", "max_steps": 7, "length_ratio": 0.0},
    )
    built = dock.conditions()
    assert [c.name for c in built] == ["entropy", "no_eos"]
    assert [c.to_dict() for c in built] == list(dock.condition_dicts())
    with pytest.raises(ValueError, match="unknown breakpoint"):
        dock.set_checked("nonsense", True)
    with pytest.raises(ValueError, match="no parameter"):
        dock.set_value("entropy", "p", 0.1)


def test_the_token_is_checked_against_the_target_vocabulary(dock):
    vocab = {"▁the": 5, "▁dog": 9}
    dock.set_vocabulary(lambda piece: vocab.get(piece, vocab.get("▁" + piece)))
    dock.set_checked("token", True)
    dock.set_value("token", "piece", "zebra")
    field = dock.fields["token", "piece"]
    assert dock.token_problem() == "'zebra' is not in the target vocabulary"
    assert "not in the target vocabulary" in field.toolTip() and field.styleSheet()
    assert dock.condition_dicts() == ()  # left out, not sent
    dock.set_value("token", "piece", "dog")
    assert dock.token_problem() is None and field.styleSheet() == ""
    assert dock.condition_dicts() == ({"kind": "token", "piece": "dog", "token_id": 9},)


def test_settings_round_trip_and_a_corrupt_value_keeps_the_default(qtbot, dock, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    dock.set_checked("over_covered", True)
    dock.set_value("over_covered", "tau", 3.5)
    dock.save(settings)
    other = BreakpointsDock()
    qtbot.addWidget(other)
    other.restore(settings)
    assert other.condition_dicts() == ({"kind": "over_covered", "tau": 3.5},)
    settings.setValue("breakpoints/repeated_ngram/n", "three")
    other.restore(settings)
    assert other.value("repeated_ngram", "n") == 3


def _greedy_tokens(checkpoint):
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(SOURCE, DecodeConfig())
    opened.run()
    return opened.session.tokens


def test_run_stops_at_the_breakpoint_marks_it_and_resumes(
    qtbot, window, tiny_translation_checkpoint
):
    tokens = _greedy_tokens(tiny_translation_checkpoint)
    limit = 3
    assert EOS_ID not in tokens[: limit + 1] and len(tokens) > limit + 1  # the fixture decodes on
    load(qtbot, window, tiny_translation_checkpoint)
    dock = window.breakpoints_dock
    dock.set_checked("no_eos", True)
    dock.set_value("no_eos", "length_ratio", 0.0)
    dock.set_value("no_eos", "max_steps", limit)
    assert window.state.breakpoints == (
        {"kind": "no_eos", "max_steps": limit, "length_ratio": 0.0},
    )
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    with qtbot.waitSignal(window.state.breakpointHitChanged, timeout=TIMEOUT):
        window.toggle_run()
    hit = window.state.breakpoint_hit
    assert (hit.step, hit.condition) == (limit, "no_eos")
    assert len(window.state.snapshot.steps) == limit + 1  # stopped right after that step
    assert hit.message in window.debugger.hit_label.text()
    assert html.escape(hit.message) in dock.hit_label.text()
    view = window.translate_view
    assert view.heatmap.marked_row() == limit and view.timeline.mark() == limit
    qtbot.waitUntil(lambda: window.state.selected_step == limit)
    qtbot.waitUntil(lambda: not window.decode_actions.run.isChecked())
    # Run again resumes from there, to the end; the stop's marks go
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert [s.token_id for s in snapshot.steps] == list(tokens)
    assert window.state.breakpoint_hit is None and view.heatmap.marked_row() is None
    assert window.debugger.hit_label.text() == ""


def test_step_reports_a_hit_on_its_step(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    dock = window.breakpoints_dock
    dock.set_checked("no_eos", True)
    dock.set_value("no_eos", "length_ratio", 0.0)
    dock.set_value("no_eos", "max_steps", 1)
    window.translate_view.set_source(SOURCE)
    wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert window.state.breakpoint_hit is None
    with qtbot.waitSignal(window.state.breakpointHitChanged, timeout=TIMEOUT):
        window.step()
    assert window.state.breakpoint_hit.step == 1


def test_an_impossible_no_eos_is_marked_and_left_out(dock):
    dock.set_value("no_eos", "max_steps", 0)
    dock.set_value("no_eos", "length_ratio", 0.0)
    dock.set_checked("no_eos", True)
    assert dock.condition_dicts() == ()
    assert "N steps or N × source length above 0" in dock.problem_label.text()
    assert dock.fields["no_eos", "max_steps"].styleSheet()
    dock.set_value("no_eos", "max_steps", 5)
    assert dock.condition_dicts() == ({"kind": "no_eos", "max_steps": 5, "length_ratio": 0.0},)
    assert dock.problem_label.text() == ""


def test_a_hostile_condition_gets_one_message_and_the_app_goes_on(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    with qtbot.waitSignal(window.client.worker.failed, timeout=TIMEOUT):
        window.client.set_breakpoints([{"kind": "explode", "when": "now"}])
    qtbot.waitUntil(lambda: "unknown breakpoint kind 'explode'" in window.message_bar.text())
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    snapshot = wait_snapshot(qtbot, window, window.toggle_run, lambda s: s.done)
    assert snapshot.steps and window.state.breakpoint_hit is None


def test_a_hit_message_is_shown_as_text_not_markup(dock):
    dock.show_hit("covered < 0.30: '<unk>' (source 4)")
    from PySide6.QtGui import QTextDocument

    shown = QTextDocument()
    shown.setHtml(dock.hit_label.text())
    assert shown.toPlainText() == "Stopped: covered < 0.30: '<unk>' (source 4)"
    dock.show_hit("")
    assert dock.hit_label.text() == ""


def test_the_entropy_condition_asks_the_decode_for_step_entropies(
    qtbot, window, tiny_translation_checkpoint
):
    load(qtbot, window, tiny_translation_checkpoint)
    assert window.decode_config().step_entropy is False
    window.breakpoints_dock.set_checked("entropy", True)
    assert window.decode_config().step_entropy is True
    window.breakpoints_dock.set_value("entropy", "threshold", 0.25)  # a random model is unsure
    window.translate_view.set_source(SOURCE)
    window.decode_actions.run.setChecked(True)
    with qtbot.waitSignal(window.state.breakpointHitChanged, timeout=TIMEOUT):
        window.toggle_run()
    assert window.state.breakpoint_hit.condition == "entropy"
    assert window.state.breakpoint_hit.step == 0  # the first step already exceeds 0.25 nats


def test_the_dock_the_engine_and_translate_flag_share_one_default_per_parameter(qtbot):
    from attnscope.engine.debugger.breakpoints import NoEos, OverCovered, UncoveredAtEos
    from attnscope.engine.debugger.specs import DEFAULT_SPEC, parse_conditions
    from attnscope.gui.breakpoints_dock import BreakpointsDock

    dock = BreakpointsDock()
    qtbot.addWidget(dock)
    engine = {c.name: c for c in (UncoveredAtEos(), OverCovered(), NoEos())}
    assert dock.value("uncovered_at_eos", "threshold") == engine["uncovered_at_eos"].threshold
    assert dock.value("over_covered", "tau") == engine["over_covered"].tau
    assert dock.value("no_eos", "length_ratio") == engine["no_eos"].length_ratio
    assert dock.value("no_eos", "max_steps") == engine["no_eos"].max_steps
    flagged = {c.name: c for c in parse_conditions(DEFAULT_SPEC)}
    for name, condition in engine.items():
        assert flagged[name] == condition, name
    assert parse_conditions("no_eos=40") == (NoEos(max_steps=40, length_ratio=0.0),)
