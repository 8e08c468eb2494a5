"""View > Device: where the model runs; choosing another device reloads the model there.
"Int8 weights (CPU)" switches the loaded model to int8 products and back (engine/quantize.py)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from attnscope.gui.decode_state import DecodeState

SETTINGS_KEY = "model/device"
INT8_KEY = "model/int8"


class DeviceChoice:
    """The device models are loaded on, remembered in ``settings`` (``model/device``).

    An explicit ``requested`` device (``--device``) wins; "auto" falls back to the last
    choice made in the UI.
    """

    def __init__(self, settings: QSettings, requested: str = "auto") -> None:
        self.settings = settings
        saved = settings.value(SETTINGS_KEY, "auto", type=str)
        self.device = saved if requested == "auto" else requested
        self.int8 = settings.value(INT8_KEY, False, type=bool)

    def choose(self, device: str) -> None:
        self.device = device
        self.settings.setValue(SETTINGS_KEY, device)

    def choose_int8(self, on: bool) -> None:
        self.int8 = on
        self.settings.setValue(INT8_KEY, on)


class DeviceMenu(QObject):
    """One checkable entry per device the worker reported, plus "Automatic".

    The entries follow the loaded model (``state.summary.devices``); choosing one
    records it in ``choice`` and calls ``reload`` with the open checkpoint's path.
    """

    def __init__(
        self,
        state: DecodeState,
        choice: DeviceChoice,
        view_menu: QMenu,
        *,
        reload: Callable[[str], None],
        set_int8: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(view_menu)
        self.state = state
        self.choice = choice
        self._reload = reload
        self._set_int8 = set_int8
        self.menu = view_menu.addMenu("&Device")
        self.menu.setToolTipsVisible(True)
        self.group = QActionGroup(self.menu)
        self.group.triggered.connect(self._chosen)
        # owned by this object, not the menu: the menu's clear() deletes what it owns
        self.int8_action = QAction("&Int8 weights (CPU)", self)
        self.int8_action.setCheckable(True)
        self.int8_action.setChecked(choice.int8)
        self.int8_action.setToolTip(
            "Run the linear and RNN products with int8 weights (dynamic quantisation): faster "
            "on the CPU, outputs differ slightly from float32"
        )
        self.int8_action.toggled.connect(self._on_int8_toggled)
        if set_int8 is not None and choice.int8:
            set_int8(True)  # remembered: before the first model arrives
        state.summaryChanged.connect(self._on_summary_changed)

    def _on_summary_changed(self, summary) -> None:
        self.menu.clear()
        for action in self.group.actions():
            self.group.removeAction(action)
        if summary is None:
            return
        for name in ("auto", *summary.devices):
            label = "Automatic (GPU when present)" if name == "auto" else name
            action = self.menu.addAction(label)
            action.setData(name)
            action.setCheckable(True)
            action.setChecked(name == self.choice.device)
            action.setToolTip(f"Reload the model on {label}")
            self.group.addAction(action)
        if self._set_int8 is not None:
            self.menu.addSeparator()
            self.menu.addAction(self.int8_action)

    def _chosen(self, action: QAction) -> None:
        device, summary = action.data(), self.state.summary
        if device == self.choice.device or summary is None:
            return
        self.choice.choose(device)
        self._reload(summary.path)

    def _on_int8_toggled(self, on: bool) -> None:
        if on == self.choice.int8 or self._set_int8 is None:
            return
        self.choice.choose_int8(on)
        self._set_int8(on)
