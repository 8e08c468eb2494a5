"""What a main window keeps between runs: geometry, dock layout, decode settings, the source."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from attnscope.gui.decode_controls import DecodeSettingsPanel
from attnscope.gui.translate_view import TranslateWorkspace

DEFAULT_SIZE = (1280, 820)  # a first run's window


def restore_window(
    host: QMainWindow,
    settings: QSettings,
    *,
    decode_settings: DecodeSettingsPanel,
    translate_view: TranslateWorkspace,
) -> None:
    """Put back ``host``'s geometry and docks, the decode settings and the last source."""
    geometry = settings.value("window/geometry")
    if geometry is not None:
        host.restoreGeometry(geometry)
    else:
        host.resize(*DEFAULT_SIZE)
    state = settings.value("window/state")
    if state is not None:
        host.restoreState(state)
    decode_settings.restore(settings)
    source = settings.value("session/source", "", type=str)
    if source:
        translate_view.set_source(source)


def save_window(
    host: QMainWindow,
    settings: QSettings,
    *,
    decode_settings: DecodeSettingsPanel,
    translate_view: TranslateWorkspace,
) -> None:
    """Keep what ``restore_window`` puts back, and write it to disk now."""
    settings.setValue("window/geometry", host.saveGeometry())
    settings.setValue("window/state", host.saveState())
    settings.setValue("session/source", translate_view.source())
    decode_settings.save(settings)
    settings.sync()
