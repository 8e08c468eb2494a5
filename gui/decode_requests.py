"""``DecodeRequests``: what the main window asks of the worker's decode session, and when.

A Step or Run first makes sure a session is open for the source and settings
on screen: a new one is opened whenever either changed, and the request waits
until that session answers, so a source that cannot be opened gets one clear
message, not two. A failed opening is forgotten, so the next request retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import QMainWindow


@dataclass(frozen=True)
class SessionKey:
    """What the open session decodes: a new key means a new session.

    source: the text, or a picture's key; config: the DecodeConfig of a decode, None for
    a reference check; reference: the text a reference check forces, else None.
    """

    source: Any
    config: Any = None
    reference: str | None = None


class DecodeRequests:
    """The window's side of the decode session: opening it, stepping it, restoring it.

    window: the MainWindow (its client, views, settings panel and messages)
    """

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.client = window.client
        self.key: SessionKey | None = None  # of the open session
        self.opening = False  # a session was requested and has not answered yet
        self._after_open = None  # the Step/Run waiting for that answer
        self._font_warnings: set[str] = set()  # scripts already reported as without a font

    # -- what is decoded --------------------------------------------------
    def current_source(self) -> Any:
        """Text to translate, or the picture to caption (path, bytes or RGB array)."""
        window = self.window
        if window.captioning.is_active():
            return window.caption_view.image_source()
        return window.translate_view.source()

    def source_key(self, source: Any) -> Any:
        """A comparable stand-in for ``source`` (pictures are compared by choice)."""
        window = self.window
        return window.caption_view.image_key() if window.captioning.is_active() else source

    def decode_config(self):
        """The Decoding panel's settings as a DecodeConfig (ValueError when inconsistent)."""
        from attnscope.engine.decoding import DecodeConfig

        values = self.window.decode_settings.values()
        values["n_best"] = min(values["beam_size"], 5) if values["strategy"] == "beam" else 1
        return DecodeConfig(**values)

    @property
    def config(self):
        """The open session's DecodeConfig, None before one is opened or for a reference check."""
        return self.key.config if self.key is not None else None

    @property
    def reference(self) -> str | None:
        """The reference the open session was forced to take (Check a reference), else None."""
        return self.key.reference if self.key is not None else None

    # -- opening ------------------------------------------------------------
    def ensure_session(self) -> bool:
        """Open a new session when the source or the settings changed; False if impossible."""
        checked = self._checked_request()
        if checked is None:
            return False
        source, config = checked
        key = SessionKey(self.source_key(source), config)
        if key != self.key:
            self._open(key, lambda: self.client.open_session(source, config))
        return True

    def check_reference(self, reference: str) -> bool:
        """Open a session that takes ``reference`` (the translation or caption the user
        expected) and compares it with the model's choices; False if impossible."""
        if not reference.strip():
            self.window.show_message(
                "Type the translation or caption you expected first.", "warning"
            )
            return False
        checked = self._checked_request()
        if checked is None:
            return False
        source, config = checked
        key = SessionKey(self.source_key(source), reference=reference)  # Step starts afresh
        self._open(key, lambda: self.client.check_reference(source, config, reference))
        return True

    def _checked_request(self) -> tuple[Any, Any] | None:
        """(source, DecodeConfig) to decode, or None after telling the user what is missing."""
        window = self.window
        if window.summary is None:
            if window.loading:
                window.statusBar().showMessage(f"{window.loading} is still loading…", 3000)
            else:
                window.show_message(
                    "No checkpoint is loaded: open one with File > Open.", "warning"
                )
            return None
        source = self.current_source()
        if source is None:
            window.show_message(
                "Drop a picture on the window or open one (Ctrl+Shift+O) first.", "warning"
            )
            return None
        if isinstance(source, str) and not source.strip():
            window.show_message("Enter a source sentence first.", "warning")
            return None
        try:
            config = self.decode_config()
        except ValueError as exc:
            window.show_message(f"Decoding settings: {exc}", "error")
            return None
        if isinstance(source, str) and SessionKey(self.source_key(source), config) != self.key:
            self._warn_if_no_font(source)
        return source, config

    def restore(self, source: str, values: dict, plan) -> None:
        """Show ``source`` with decode settings ``values`` and retake a saved decode's steps."""
        window = self.window
        if window.captioning.is_active():
            window.caption_view.blockSignals(True)  # no automatic caption: the replay is it
            window.caption_view.set_image_path(source)
            window.caption_view.blockSignals(False)
        else:
            window.translate_view.set_source(source)
        window.decode_settings.set_values(values)
        try:
            config = self.decode_config()
        except ValueError as exc:
            window.show_message(f"The last session's decoding settings: {exc}", "warning")
            return
        self._open(
            SessionKey(self.source_key(source), config),
            lambda: self.client.replay(source, config, plan),
        )

    def _open(self, key: SessionKey, request) -> None:
        self.key = key
        self.window.selected_step = None
        self.opening, self._after_open = True, None
        request()

    def _warn_if_no_font(self, text: str) -> None:
        from attnscope.gui.fonts import missing_font_message

        message = missing_font_message(text, self._font_warnings)
        if message:
            self.window.show_message(message, "warning")

    # -- the decode buttons ---------------------------------------------------
    def step(self) -> None:
        if self.ensure_session():
            self.window.selected_step = None
            self._send(self.client.step)

    def toggle_run(self) -> None:
        run = self.window.decode_actions.run
        if not run.isChecked():
            self._after_open = None
            self.client.pause()
            return
        if self.ensure_session():
            self.window.selected_step = None
            self._send(self.client.run)
        else:
            run.setChecked(False)

    def back(self) -> None:
        if self.key is not None:
            self.window.selected_step = None
            self.client.back()

    def reset(self) -> None:
        if self.key is not None:
            self.window.selected_step = None
            self.client.reset()

    def force(self, token_id: int, step: int) -> None:
        """Replace step ``step``'s token and let the decode continue live."""
        self.window.selected_step = None
        self.client.force(token_id, step)
        self.window.decode_actions.run.setChecked(True)
        self.client.run()

    def _send(self, request) -> None:
        """Send ``request`` now, or once the session being opened has answered."""
        if self.opening:
            self._after_open = request
        else:
            request()

    # -- the worker's answers ---------------------------------------------------
    def answered(self) -> None:
        """A snapshot arrived: the session is open; send the request that waited for it."""
        pending, self._after_open = self._after_open, None
        self.opening = False
        if pending is not None:
            pending()

    def failed(self) -> bool:
        """The worker reported an error; True when it was the opening that failed (the
        next request opens the session again)."""
        if not self.opening:
            return False
        self.opening, self._after_open, self.key = False, None, None
        return True

    def forget(self) -> None:
        """A new model: the next request opens a new session."""
        self.key = None
