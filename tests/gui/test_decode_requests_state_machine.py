"""DecodeRequests alone: no window, no worker thread, no checkpoint.

A fake ``DecodeClient`` records the worker requests, fake ``DecodeInputs`` play the
source box, the Decoding panel and the Run button, and a real ``DecodeState`` holds
what was opened. Each test sees exactly which requests went out, and when.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from attnscope.engine.decoding import DecodeConfig
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState, SessionKey

SOURCE = "ein hund läuft ."
TRANSLATOR = SimpleNamespace(task="translation", path="tiny.safetensors")


class FakeClient:
    """Records each DecodeClient call as (method, arguments); pings apart, in ``pings``.

    A ping is answered at once through ``pong`` (a worker with nothing else on its way),
    unless ``hold_pongs``: then ``deliver_pongs()`` answers the ones held.
    """

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.pings: list[int] = []
        self.pong = lambda serial: None
        self.hold_pongs = False
        self._held: list[int] = []

    def ping(self, serial) -> None:
        self.pings.append(serial)
        if self.hold_pongs:
            self._held.append(serial)
        else:
            self.pong(serial)

    def deliver_pongs(self) -> None:
        held, self._held = self._held, []
        for serial in held:
            self.pong(serial)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]

    def _record(self, name: str, *args) -> None:
        self.calls.append((name, *args))

    def open_session(self, source, decode_config) -> None:
        self._record("open_session", source, decode_config)

    def check_reference(self, source, decode_config, reference) -> None:
        self._record("check_reference", source, decode_config, reference)

    def replay(self, source, decode_config, plan) -> None:
        self._record("replay", source, decode_config, tuple(plan))

    def step(self) -> None:
        self._record("step")

    def run(self) -> None:
        self._record("run")

    def pause(self) -> None:
        self._record("pause")

    def back(self) -> None:
        self._record("back")

    def reset(self) -> None:
        self._record("reset")

    def force(self, token_id, at_step) -> None:
        self._record("force", token_id, at_step)


class FakeInputs:
    """The source box, the Decoding panel, the Run button and the message bar."""

    def __init__(self) -> None:
        self.source = SOURCE
        self.values = {"strategy": "greedy", "beam_size": 5, "max_length": 20}
        self.run = False
        self.messages: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def current_source(self):
        return self.source

    def source_key(self, source):
        return source

    def decode_values(self) -> dict:
        return dict(self.values)

    def show_source(self, source: str) -> None:
        self.source = source

    def set_decode_values(self, values: dict) -> None:
        self.values = dict(values)

    def run_checked(self) -> bool:
        return self.run

    def set_run_checked(self, checked: bool) -> None:
        self.run = checked

    def show_message(self, text: str, level: str) -> None:
        self.messages.append((text, level))

    def show_status(self, text: str, timeout_ms: int) -> None:
        self.statuses.append(text)


@pytest.fixture
def state(qapp):
    decode = DecodeState()
    decode.set_summary(TRANSLATOR)
    return decode


@pytest.fixture
def inputs():
    return FakeInputs()


@pytest.fixture
def client():
    return FakeClient()


@pytest.fixture
def requests(state, client, inputs):
    machine = DecodeRequests(state, client, inputs)
    client.pong = machine.passed
    return machine


def test_a_step_opens_a_session_and_steps_only_after_it_answered(requests, client, state):
    requests.step()
    assert client.calls == [("open_session", SOURCE, DecodeConfig(max_length=20))]
    assert requests.opening
    assert state.session_key == SessionKey(SOURCE, DecodeConfig(max_length=20))
    requests.answered()
    assert client.names() == ["open_session", "step"] and not requests.opening
    assert state.decode_config == DecodeConfig(max_length=20)  # the shown decode's settings
    requests.step()  # same source and settings: the open session steps on
    assert client.names() == ["open_session", "step", "step"]


def test_a_changed_source_or_setting_reopens(requests, client, inputs):
    requests.step()
    requests.answered()
    inputs.values = {**inputs.values, "strategy": "beam", "beam_size": 3}
    requests.step()
    assert client.calls[-1] == (
        "open_session",
        SOURCE,
        DecodeConfig(strategy="beam", beam_size=3, n_best=3, max_length=20),
    )
    requests.answered()
    inputs.source = "zwei hunde spielen im schnee ."
    requests.step()
    assert client.names() == ["open_session", "step", "open_session", "step", "open_session"]


def test_a_failed_opening_is_forgotten_and_the_next_request_retries(requests, client, state):
    requests.step()
    assert requests.failed()  # the worker could not open the source
    assert state.session_key is None and not requests.opening
    requests.answered()  # a late snapshot sends nothing that waited
    assert client.names() == ["open_session"]
    requests.step()
    assert client.names() == ["open_session", "open_session"]


def test_an_error_after_the_opening_keeps_the_session(requests, client, state):
    requests.step()
    requests.answered()
    assert not requests.failed()
    assert state.session_key is not None


def test_run_waits_for_the_session_and_pausing_drops_the_waiting_run(requests, client, inputs):
    inputs.run = True
    requests.toggle_run()
    inputs.run = False
    requests.toggle_run()
    requests.answered()
    assert client.names() == ["open_session", "pause"]
    inputs.run = True
    requests.toggle_run()  # the session is open now: Run goes at once
    assert client.names() == ["open_session", "pause", "run"]


def test_run_that_cannot_start_unchecks_the_button(requests, client, inputs):
    inputs.source = "   "
    inputs.run = True
    requests.toggle_run()
    assert client.calls == [] and inputs.run is False
    assert inputs.messages[-1] == ("Enter a source sentence first.", "warning")


def test_force_replaces_the_token_and_runs_on(requests, client, inputs, state):
    requests.step()
    requests.answered()
    state.set_selected_step(0)
    requests.force(42, 0)
    assert client.calls[-2:] == [("force", 42, 0), ("run",)]
    assert inputs.run and state.selected_step is None


def test_a_reference_check_has_its_own_key_and_a_step_afterwards_starts_afresh(
    requests, client, state
):
    assert requests.check_reference("a dog runs .")
    config = DecodeConfig(max_length=20)
    assert client.calls == [("check_reference", SOURCE, config, "a dog runs .")]
    assert state.session_key == SessionKey(SOURCE, config, "a dog runs .")
    assert state.reference == "a dog runs ."
    requests.answered()
    assert state.decode_config == config  # the comparison decode used the user's settings
    requests.step()
    assert client.names() == ["check_reference", "open_session"]
    assert state.reference is None


def test_an_empty_reference_is_refused(requests, client, inputs):
    assert not requests.check_reference("  ")
    assert client.calls == []
    assert "Type the translation or caption you expected" in inputs.messages[-1][0]


def test_restore_shows_the_source_and_settings_and_replays(requests, client, inputs, state):
    requests.restore("der hund .", {**inputs.values, "max_length": 7}, [None, 5, None])
    assert inputs.source == "der hund ." and inputs.values["max_length"] == 7
    config = DecodeConfig(max_length=7)
    assert client.calls == [("replay", "der hund .", config, (None, 5, None))]
    assert state.session_key == SessionKey("der hund .", config)
    requests.answered()
    requests.step()  # the restored session is the open one
    assert client.names() == ["replay", "step"]


def test_restore_with_bad_settings_says_so_and_sends_nothing(requests, client, inputs):
    requests.restore("der hund .", {**inputs.values, "strategy": "nonsense"}, [None])
    assert client.calls == []
    assert inputs.messages[-1][0].startswith("The last session's decoding settings")


def test_back_and_reset_before_any_session_do_nothing(requests, client):
    requests.back()
    requests.reset()
    assert client.calls == []
    requests.step()
    requests.answered()
    requests.back()
    requests.reset()
    assert client.names() == ["open_session", "step", "back", "reset"]


def test_no_model_means_a_message_or_a_loading_note_and_no_request(client, inputs, qapp):
    state = DecodeState()
    requests = DecodeRequests(state, client, inputs)
    requests.step()
    assert "No checkpoint is loaded" in inputs.messages[-1][0]
    state.loading = "big.safetensors"
    requests.step()
    assert inputs.statuses == ["big.safetensors is still loading…"]
    assert client.calls == []


def test_a_new_model_forgets_the_session(requests, client, state):
    requests.step()
    requests.answered()
    requests.forget()
    assert state.session_key is None
    requests.step()
    assert client.names() == ["open_session", "step", "open_session"]


def test_opening_a_session_clears_the_selection_and_the_old_report(requests, state):
    state.set_selected_step(2)
    state.set_report(object())
    requests.step()
    assert state.selected_step is None and state.report is None


def test_the_worker_client_offers_every_method_of_the_protocol():
    """DecodeClient lists WorkerClient methods: same names, same parameters."""
    import inspect

    from attnscope.gui.decode_requests import DecodeClient
    from attnscope.gui.worker_client import WorkerClient

    names = [n for n in vars(DecodeClient) if not n.startswith("_")]
    assert sorted(names) == sorted(
        ["open_session", "check_reference", "replay", "step", "run", "pause"]
        + ["back", "reset", "force", "edit_attention", "undo_edit", "ping"]
    )
    for name in names:
        wanted = list(inspect.signature(getattr(DecodeClient, name)).parameters)
        offered = list(inspect.signature(getattr(WorkerClient, name)).parameters)
        assert offered == wanted, name


def test_a_late_answer_of_the_replaced_session_does_not_answer_the_new_one(
    requests, client, inputs, state
):
    """A Run is still sending snapshots (or fails) when a new source is opened: those
    answers arrive before the pong of the ping sent ahead of the opening and are stale."""
    requests.step()
    requests.answered()
    old_config = state.decode_config
    client.hold_pongs = True  # the worker has not reached the new opening yet
    inputs.values = {**inputs.values, "max_length": 9}
    requests.step()
    assert client.names() == ["open_session", "step", "open_session"]
    assert requests.stale() and requests.opening
    requests.answered()  # a late snapshot of the old Run
    assert not requests.failed()  # a late error of the old Run
    assert client.names() == ["open_session", "step", "open_session"]  # the step still waits
    assert requests.opening and state.session_key is not None
    assert state.decode_config == old_config
    client.deliver_pongs()  # the worker took the opening: its answer comes next
    assert not requests.stale()
    requests.answered()
    assert client.names() == ["open_session", "step", "open_session", "step"]
    assert not requests.opening and state.decode_config == DecodeConfig(max_length=9)


def test_only_the_newest_openings_pong_ends_the_fence(requests, client, inputs):
    client.hold_pongs = True
    requests.step()
    inputs.source = "zwei hunde ."
    requests.step()  # a second opening before the first answered
    first, second = client.pings
    requests.passed(first)
    assert requests.stale()  # the first session's answer is on its way: stale too
    requests.answered()
    assert client.names() == ["open_session", "open_session"]
    requests.passed(second)
    requests.answered()
    assert client.names() == ["open_session", "open_session", "step"]


def test_an_opening_that_fails_after_its_fence_is_forgotten(requests, client, state):
    client.hold_pongs = True
    requests.step()
    client.deliver_pongs()
    assert requests.failed()  # the opening's own error
    assert state.session_key is None and not requests.opening
