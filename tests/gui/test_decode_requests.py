"""DecodeRequests: a session is opened when source or settings change, requests wait for it.

The window and model are real; the worker client is replaced by a recorder
after the load, so each test sees exactly which requests went out, and when.
"""

from __future__ import annotations

import pytest
from window_support import SOURCE, load


class RecordingClient:
    """Records each request by name; a ping is answered at once through ``pong``
    (nothing else is on its way), unless ``hold_pongs``."""

    def __init__(self, pong) -> None:
        self.calls: list[str] = []
        self.pong = pong
        self.hold_pongs = False

    def ping(self, serial: int) -> None:
        if not self.hold_pongs:
            self.pong(serial)

    def __getattr__(self, name: str):
        return lambda *args: self.calls.append(name)


@pytest.fixture
def requests(qtbot, window, tiny_translation_checkpoint):
    load(qtbot, window, tiny_translation_checkpoint)
    # the example decoded on load (test_first_screen.py) finishes; these tests start afresh
    qtbot.waitUntil(lambda: window.state.snapshot is not None and window.state.snapshot.done)
    window.requests.forget()
    window.translate_view.set_source(SOURCE)
    window.requests.client = RecordingClient(window.requests.passed)
    return window.requests


def test_a_step_waits_for_the_session_it_opened(window, requests):
    window.step()
    assert requests.client.calls == ["open_session"] and requests.opening
    requests.answered()
    assert requests.client.calls == ["open_session", "step"] and not requests.opening
    window.step()  # same source and settings: the open session steps on
    assert requests.client.calls == ["open_session", "step", "step"]
    assert requests.config == requests.decode_config()


def test_new_settings_or_source_open_a_new_session(window, requests):
    window.step()
    requests.answered()
    window.decode_settings.set_values({"strategy": "beam", "beam_size": 3})
    window.step()
    assert requests.client.calls[-1] == "open_session" and requests.config.beam_size == 3
    requests.answered()
    window.translate_view.set_source("zwei hunde spielen im schnee .")
    window.step()
    assert requests.client.calls.count("open_session") == 3


def test_a_failed_opening_is_forgotten_and_the_next_request_retries(window, requests):
    window.step()
    assert requests.failed()  # the worker could not open the source
    assert requests.key is None and not requests.opening
    requests.answered()  # a late snapshot sends nothing that waited
    assert requests.client.calls == ["open_session"]
    window.step()
    assert requests.client.calls == ["open_session", "open_session"]


def test_pausing_before_the_session_answers_drops_the_waiting_run(window, requests):
    window.decode_actions.run.setChecked(True)
    window.toggle_run()
    window.decode_actions.run.setChecked(False)
    window.toggle_run()
    requests.answered()
    assert requests.client.calls == ["open_session", "pause"]


def test_back_and_reset_need_an_open_session(window, requests):
    window.back()
    window.reset()
    assert requests.client.calls == []
    window.step()
    requests.answered()
    window.back()
    window.reset()
    assert requests.client.calls == ["open_session", "step", "back", "reset"]


def test_an_empty_source_is_refused_with_a_message(window, requests):
    window.translate_view.set_source("   ")
    window.step()
    assert requests.client.calls == []
    assert "Enter a source sentence" in window.message_bar.text()


def test_the_window_drops_a_late_snapshot_of_a_replaced_session(window, requests):
    """Until the worker has taken the new opening, a snapshot it sends is the replaced
    session's: not shown, and the step waiting for the new session still waits."""
    from dataclasses import replace

    shown = window.state.snapshot  # the decode made on load
    requests.client.hold_pongs = True
    window.step()
    late = replace(shown, steps=shown.steps[:1])  # e.g. a Run of the old session, late
    window.client.worker.snapshot.emit(late)
    assert window.state.snapshot is shown
    assert requests.client.calls == ["open_session"] and requests.opening
