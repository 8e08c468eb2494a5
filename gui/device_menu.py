"""View > Device: where the model runs; choosing another device reloads the model there."""

from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup


class DeviceMenu:
    """One checkable entry per device the worker reported, plus "Automatic".

    The choice is remembered in the window's settings (``model/device``) and
    the open checkpoint is reloaded on the chosen device.
    """

    def __init__(self, window, view_menu) -> None:
        self.window = window
        self.menu = view_menu.addMenu("&Device")
        self.menu.setToolTipsVisible(True)
        self.group = QActionGroup(window)
        self.group.triggered.connect(self._chosen)

    def model_loaded(self, summary) -> None:
        self.menu.clear()
        for action in self.group.actions():
            self.group.removeAction(action)
        for name in ("auto", *summary.devices):
            label = "Automatic (GPU when present)" if name == "auto" else name
            action = self.menu.addAction(label)
            action.setData(name)
            action.setCheckable(True)
            action.setChecked(name == self.window.device)
            action.setToolTip(f"Reload the model on {label}")
            self.group.addAction(action)

    def _chosen(self, action: QAction) -> None:
        window, device = self.window, action.data()
        if device == window.device or window.summary is None:
            return
        window.device = device
        window.settings.setValue("model/device", device)
        window.load_checkpoint(window.summary.path)
