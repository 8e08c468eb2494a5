"""``WorkspaceInputs``: the ``DecodeInputs`` of DecodeRequests, read off the real widgets.

The source comes from the workspace of the loaded model's task (the text box
for translation, the chosen picture for captioning); the settings from the
Decoding panel; Run's checked state from its action; messages go to the
callables given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction

from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_controls import DecodeSettingsPanel
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.translate_view import TranslateWorkspace


class WorkspaceInputs:
    """What to decode, as the translate or caption workspace and the Decoding panel show it."""

    def __init__(
        self,
        state: DecodeState,
        *,
        translate_view: TranslateWorkspace,
        caption_view: CaptionWorkspace,
        settings_panel: DecodeSettingsPanel,
        run_action: QAction,
        show_message: Callable[[str, str], None],
        show_status: Callable[[str, int], None],
    ) -> None:
        self.state = state
        self.translate_view = translate_view
        self.caption_view = caption_view
        self.settings_panel = settings_panel
        self.run_action = run_action
        self._show_message = show_message
        self._show_status = show_status

    def _captioning(self) -> bool:
        return self.state.task == "captioning"

    def current_source(self) -> Any:
        if self._captioning():
            return self.caption_view.image_source()
        return self.translate_view.source()

    def source_key(self, source: Any) -> Any:
        return self.caption_view.image_key() if self._captioning() else source

    def decode_values(self) -> dict[str, Any]:
        return self.settings_panel.values()

    def show_source(self, source: str) -> None:
        if self._captioning():
            self.caption_view.blockSignals(True)  # no automatic caption: the replay is it
            self.caption_view.set_image_path(source)
            self.caption_view.blockSignals(False)
        else:
            self.translate_view.set_source(source)

    def set_decode_values(self, values: dict[str, Any]) -> None:
        self.settings_panel.set_values(values)

    def run_checked(self) -> bool:
        return self.run_action.isChecked()

    def set_run_checked(self, checked: bool) -> None:
        self.run_action.setChecked(checked)

    def show_message(self, text: str, level: str) -> None:
        self._show_message(text, level)

    def show_status(self, text: str, timeout_ms: int) -> None:
        self._show_status(text, timeout_ms)
