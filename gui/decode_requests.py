"""``DecodeRequests``: what the GUI asks of the worker's decode session, and when.

A Step or Run first makes sure a session is open for the source and settings
on screen: a new one is opened whenever either changed, and the request waits
until that session answers, so a source that cannot be opened gets one clear
message, not two. A failed opening is forgotten, so the next request retries.

The worker answers requests in order, so a ping sent just before the opening
request fences the answers: whatever arrives before its pong (a late snapshot or
error of the session replaced, e.g. of a Run still going) is stale, and the first
answer after it is the opening's (``passed``, ``stale``).

The state machine knows nothing of windows or threads: it talks to the worker
through ``DecodeClient``, reads what to decode through ``DecodeInputs``, and
records what it opened in a ``DecodeState``. Tests drive it with fakes of both.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from attnscope.gui.decode_state import DecodeState, SessionKey

__all__ = ["DecodeClient", "DecodeInputs", "DecodeRequests", "SessionKey"]


class DecodeClient(Protocol):
    """The WorkerClient methods the request state machine calls (gui/worker_client.py)."""

    def open_session(self, source: object, decode_config: object) -> None: ...
    def check_reference(self, source: object, decode_config: object, reference: str) -> None: ...
    def replay(self, source: object, decode_config: object, plan: Sequence[int | None]) -> None: ...
    def step(self) -> None: ...
    def run(self) -> None: ...
    def pause(self) -> None: ...
    def back(self) -> None: ...
    def reset(self) -> None: ...
    def force(self, token_id: int, at_step: int) -> None: ...
    def edit_attention(self, at_step: int, weights: Any) -> None: ...
    def undo_edit(self, at_step: int) -> None: ...
    def ping(self, serial: int) -> None: ...


class DecodeInputs(Protocol):
    """What the user put on screen to decode, and where to tell them about it."""

    def current_source(self) -> Any:
        """Text to translate, or the picture to caption (path, bytes or RGB array)."""

    def source_key(self, source: Any) -> Any:
        """A comparable stand-in for ``source`` (pictures are compared by choice)."""

    def decode_values(self) -> dict[str, Any]:
        """The Decoding panel's settings (DecodeSettingsPanel.values())."""

    def show_source(self, source: str) -> None:
        """Put a saved source on screen without starting a decode of its own."""

    def set_decode_values(self, values: dict[str, Any]) -> None: ...
    def run_checked(self) -> bool: ...
    def set_run_checked(self, checked: bool) -> None: ...
    def show_message(self, text: str, level: str) -> None: ...
    def show_status(self, text: str, timeout_ms: int) -> None: ...


class DecodeRequests:
    """The GUI's side of the decode session: opening it, stepping it, restoring it."""

    def __init__(self, state: DecodeState, client: DecodeClient, inputs: DecodeInputs) -> None:
        self.state = state
        self.client = client
        self.inputs = inputs
        self.opening = False  # a session was requested and has not answered yet
        self._opening_config = None  # the DecodeConfig of that session
        self._serials = itertools.count(1)  # positive: the explain panel pings with negatives
        self._fence: int | None = None  # the ping sent before the opening, until its pong
        self._after_open: Callable[[], None] | None = None  # the Step/Run waiting for it
        self._font_warnings: set[str] = set()  # scripts already reported as without a font
        self._restored = False  # a saved decode was restored since the model loaded
        self._starts_over = False  # the shown decode is the one made on load: Step restarts

    # -- what is decoded --------------------------------------------------
    def current_source(self) -> Any:
        """Text to translate, or the picture to caption (path, bytes or RGB array)."""
        return self.inputs.current_source()

    def decode_config(self):
        """The Decoding panel's settings as a DecodeConfig (ValueError when inconsistent)."""
        from attnscope.engine.decoding import DecodeConfig

        values = self.inputs.decode_values()
        values["n_best"] = min(values["beam_size"], 5) if values["strategy"] == "beam" else 1
        # the entropy breakpoint reads each step's entropy, recorded only when asked
        values["step_entropy"] = any(d.get("kind") == "entropy" for d in self.state.breakpoints)
        return DecodeConfig(**values)

    @property
    def key(self) -> SessionKey | None:
        """The open (or opening) session's key, None before one is opened."""
        return self.state.session_key

    @property
    def config(self):
        """The open session's DecodeConfig, None before one is opened."""
        return self.key.config if self.key is not None else None

    @property
    def reference(self) -> str | None:
        """The reference the open session was forced to take (Check a reference), else None."""
        return self.state.reference

    # -- opening ------------------------------------------------------------
    def ensure_session(self) -> bool:
        """Open a new session when the source or the settings changed; False if impossible."""
        checked = self._checked_request()
        if checked is None:
            return False
        source, config = checked
        key = SessionKey(self.inputs.source_key(source), config)
        if key != self.key:
            self._open(key, lambda: self.client.open_session(source, config))
        return True

    def check_reference(self, reference: str) -> bool:
        """Open a session that takes ``reference`` (the translation or caption the user
        expected) and compares it with the model's choices; False if impossible."""
        if not reference.strip():
            self.inputs.show_message(
                "Type the translation or caption you expected first.", "warning"
            )
            return False
        checked = self._checked_request()
        if checked is None:
            return False
        source, config = checked
        key = SessionKey(self.inputs.source_key(source), config, reference)  # Step: afresh
        self._open(key, lambda: self.client.check_reference(source, config, reference))
        return True

    def _checked_request(self) -> tuple[Any, Any] | None:
        """(source, DecodeConfig) to decode, or None after telling the user what is missing."""
        inputs = self.inputs
        if self.state.summary is None:
            if self.state.loading:
                inputs.show_status(f"{self.state.loading} is still loading…", 3000)
            else:
                inputs.show_message(
                    "No checkpoint is loaded: open one with File > Open.", "warning"
                )
            return None
        source = inputs.current_source()
        if source is None:
            inputs.show_message(
                "Drop a picture on the window or open one (Ctrl+Shift+O) first.", "warning"
            )
            return None
        if isinstance(source, str) and not source.strip():
            inputs.show_message("Enter a source sentence first.", "warning")
            return None
        try:
            config = self.decode_config()
        except ValueError as exc:
            inputs.show_message(f"Decoding settings: {exc}", "error")
            return None
        if isinstance(source, str) and SessionKey(inputs.source_key(source), config) != self.key:
            self._warn_if_no_font(source)
        return source, config

    def restore(
        self, source: str, values: dict, plan: Sequence[int | None], *, config=None
    ) -> None:
        """Show ``source`` with decode settings ``values`` and retake a saved decode's steps
        (``plan``: see WorkerClient.replay); ``config``: the exact DecodeConfig to use."""
        self._restored = True  # a restored decode wins over the one made on load
        self.inputs.show_source(source)
        self.inputs.set_decode_values(values)
        try:
            config = config if config is not None else self.decode_config()
        except ValueError as exc:
            self.inputs.show_message(f"The last session's decoding settings: {exc}", "warning")
            return
        self._open(
            SessionKey(self.inputs.source_key(source), config),
            lambda: self.client.replay(source, config, plan),
        )

    def _open(self, key: SessionKey, request: Callable[[], None]) -> None:
        self.state.set_session_key(key)
        self.state.set_selected_step(None)
        self.state.set_report(None)  # a report belongs to the decode that made it
        self.state.set_breakpoint_hit(None)  # so do a breakpoint's stop and a what-if
        self.state.set_what_if(None)
        self.opening, self._opening_config, self._after_open = True, key.config, None
        self._starts_over = False
        self._fence = next(self._serials)
        self.client.ping(self._fence)  # what the worker sends before its pong is stale
        request()

    def _warn_if_no_font(self, text: str) -> None:
        from attnscope.gui.fonts import missing_font_message

        message = missing_font_message(text, self._font_warnings)
        if message:
            self.inputs.show_message(message, "warning")

    def decode_on_load(self) -> bool:
        """Decode the source on screen to the end, so a newly loaded model's first screen
        shows a translation (or caption) and its attention; True when it started.

        Called once the model's settings (its recommended decoding) are on the panel.
        Nothing happens when a saved decode was restored since the load (the autosave or
        a session file wins) or there is nothing to decode. Step then starts over from
        the first token, as on a fresh session.
        """
        source = self.inputs.current_source()
        if self._restored or source is None or (isinstance(source, str) and not source.strip()):
            return False
        self.inputs.set_run_checked(True)
        self.toggle_run()
        self._starts_over = self.inputs.run_checked()  # unchecked: the request was refused
        return self._starts_over

    # -- the decode buttons ---------------------------------------------------
    def step(self) -> None:
        """One more step; after the decode made on load, the first step of a fresh one."""
        starts_over, self._starts_over = self._starts_over, False
        if self.ensure_session():
            self.state.set_selected_step(None)
            self.state.set_breakpoint_hit(None)
            if starts_over and self.key is not None:
                self.inputs.set_run_checked(False)  # the decode on load may still be running
                self._send(self._step_afresh)
            else:
                self._send(self.client.step)

    def _step_afresh(self) -> None:
        self.client.reset()
        self.client.step()

    def _run_afresh(self) -> None:
        self.client.reset()
        self.client.run()

    def toggle_run(self) -> None:
        """Run when the Run action is checked (opening a session first), else pause; after
        the decode made on load, Run decodes afresh (live) from the first token."""
        starts_over, self._starts_over = self._starts_over, False
        if not self.inputs.run_checked():
            self._after_open = None
            self.client.pause()
            return
        if self.ensure_session():
            self.state.set_selected_step(None)
            self.state.set_breakpoint_hit(None)  # Run resumes from a breakpoint's stop
            self._send(self._run_afresh if starts_over else self.client.run)
        else:
            self.inputs.set_run_checked(False)

    def back(self) -> None:
        self._starts_over = False
        if self.key is not None:
            self.state.set_selected_step(None)
            self.client.back()

    def reset(self) -> None:
        self._starts_over = False
        if self.key is not None:
            self.state.set_selected_step(None)
            self.state.set_breakpoint_hit(None)
            self.state.set_what_if(None)
            self.client.reset()

    def force(self, token_id: int, step: int) -> None:
        """Replace step ``step``'s token and let the decode continue live."""
        self._starts_over = False
        self.state.set_selected_step(None)
        self.client.force(token_id, step)
        self.inputs.set_run_checked(True)
        self.client.run()

    def edit_attention(self, step: int, weights: Any) -> None:
        """Retake step ``step`` with attention ``weights`` (heads, S) and continue live."""
        self.state.set_selected_step(None)
        self.state.set_breakpoint_hit(None)
        self.client.edit_attention(step, weights)
        self.inputs.set_run_checked(True)
        self.client.run()

    def undo_edit(self, step: int) -> None:
        """Drop the attention edit at ``step``: the original decode comes back exactly."""
        self.state.set_selected_step(None)
        self.state.set_what_if(None)
        self.inputs.set_run_checked(False)
        self.client.undo_edit(step)

    def _send(self, request: Callable[[], None]) -> None:
        """Send ``request`` now, or once the session being opened has answered."""
        if self.opening:
            self._after_open = request
        else:
            request()

    # -- the worker's answers ---------------------------------------------------
    def passed(self, serial: int) -> None:
        """The worker answered ``ping(serial)``: past the opening's fence, its next answer
        is the opening's."""
        if serial == self._fence:
            self._fence = None

    def stale(self) -> bool:
        """True while the worker's answers are still those of a session replaced since (sent
        before it took the opening request): the window drops them."""
        return self._fence is not None

    def answered(self) -> None:
        """A snapshot arrived: the session is open; send the request that waited for it.
        A stale one (``stale()``) is not the opening's answer and changes nothing."""
        if self.stale():
            return
        if self.opening:  # the shown decode is now the new session's
            self.state.set_decode_config(self._opening_config)
        pending, self._after_open = self._after_open, None
        self.opening = False
        if pending is not None:
            pending()

    def stopped_at_breakpoint(self, hit) -> None:
        """A breakpoint stopped the Run after step ``hit.step``: Run is unchecked (pressing
        it again resumes) and the hit is the state's until the next request."""
        self.inputs.set_run_checked(False)
        self.state.set_breakpoint_hit(hit)

    def failed(self) -> bool:
        """The worker reported an error; True when it was the opening that failed (the
        next request opens the session again). A stale error is the replaced session's."""
        if not self.opening or self.stale():
            return False
        self.opening, self._after_open = False, None
        self.state.set_session_key(None)
        return True

    def forget(self) -> None:
        """A new model: the next request opens a new session."""
        self._restored = self._starts_over = False
        self.state.set_session_key(None)
