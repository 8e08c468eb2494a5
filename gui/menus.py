"""The main window's menu bar and decode toolbar, and the parts that own their actions.

``WindowMenus`` builds File, Decode, View and Help and the decode toolbar. The parts
whose actions sit in them (export, captioning, demo models, recent files, the
reference check, the recommended settings, the device menu) are made here and kept
as attributes. It is handed the host window only as the Qt parent of its dialogs
and the owner of the menu bar and toolbar; everything else arrives by keyword.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar

from attnscope.gui.caption_controller import CaptioningController, add_caption_exports
from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_controls import DecodeActions, DecodeSettingsPanel, RecommendedDecoding
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.demo_menu import DemoMenus
from attnscope.gui.device_menu import DeviceChoice, DeviceMenu
from attnscope.gui.export_actions import Exporter
from attnscope.gui.file_translation import FileTranslation
from attnscope.gui.recent import RecentFiles, RecentMenu
from attnscope.gui.reference_check import ReferenceCheck
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient


@dataclass(frozen=True)
class WindowCommands:
    """What the menus call back into: the window's own commands."""

    open_dialog: Callable[[], None]
    open_folder_dialog: Callable[[], None]
    load_checkpoint: Callable[..., None]
    decode_new_picture: Callable[[], None]
    show_message: Callable[..., None]
    about: Callable[[], None]
    quit: Callable[[], Any]


def make_action(parent: QObject, text: str, key, slot, tip: str) -> QAction:
    """A QAction with a shortcut (``key`` may be None), a tooltip and a status tip."""
    action = QAction(text, parent)
    if key is not None:
        action.setShortcut(QKeySequence(key))
        tip = f"{tip} ({action.shortcut().toString()})"
    action.setStatusTip(tip)
    action.setToolTip(tip)
    action.triggered.connect(slot)
    return action


class WindowMenus(QObject):
    """File / Decode / View / Help and the decode toolbar of one main window."""

    def __init__(
        self,
        host: QMainWindow,
        *,
        state: DecodeState,
        client: WorkerClient,
        requests: DecodeRequests,
        translate_view: TranslateWorkspace,
        caption_view: CaptionWorkspace,
        decode_settings: DecodeSettingsPanel,
        decode_actions: DecodeActions,
        file_translation: FileTranslation,
        recent: RecentFiles,
        device_choice: DeviceChoice,
        commands: WindowCommands,
    ) -> None:
        super().__init__(host)
        self._host, self._commands = host, commands
        self._state, self._client, self._requests = state, client, requests
        self.toolbar = QToolBar("Decode")
        self.toolbar.setObjectName("toolbar-decode")
        self.toolbar.addActions(decode_actions.all)
        host.addToolBar(self.toolbar)
        bar = host.menuBar()
        self.file_menu = bar.addMenu("&File")
        self._build_file_menu(translate_view, caption_view, file_translation, recent)
        decode_actions.run.toggled.connect(caption_view.set_streaming)
        self.decode_menu = bar.addMenu("&Decode")
        self._build_decode_menu(decode_settings, decode_actions)
        self.view_menu = bar.addMenu("&View")
        self.device_menu = DeviceMenu(
            state,
            device_choice,
            self.view_menu,
            reload=commands.load_checkpoint,
            set_int8=client.set_int8,
        )
        self.view_menu.addSeparator()
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(
            make_action(host, "&About AttnScope", None, commands.about, "About this program")
        )

    def _build_file_menu(
        self,
        translate_view: TranslateWorkspace,
        caption_view: CaptionWorkspace,
        file_translation: FileTranslation,
        recent: RecentFiles,
    ) -> None:
        host, commands, menu = self._host, self._commands, self.file_menu
        self.open_action = make_action(
            host,
            "&Open checkpoint…",
            QKeySequence.Open,
            commands.open_dialog,
            "Open a model checkpoint",
        )
        menu.addAction(self.open_action)
        self.open_folder_action = make_action(
            host,
            "Open &folder…",
            "Ctrl+Alt+O",
            commands.open_folder_dialog,
            "Open a Hugging Face model folder (config.json, model.safetensors, tokenizer files)",
        )
        menu.addAction(self.open_folder_action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_entries = RecentMenu(self.recent_menu, recent, commands.load_checkpoint)
        self.demo_menus = DemoMenus(
            menu,
            before=self.recent_menu.menuAction(),
            load_checkpoint=commands.load_checkpoint,
            show_message=commands.show_message,
            show_status=host.statusBar().showMessage,
        )
        self.batch_action = file_translation.action
        menu.addAction(self.batch_action)
        self.export_menu = menu.addMenu("&Export")
        self.exporter = Exporter(
            self._state, translate_view.heatmap, parent=host, show_message=commands.show_message
        )
        self.exporter.add_actions(self.export_menu)
        self.captioning = CaptioningController(
            self._state,
            caption_view,
            decode_input=commands.decode_new_picture,
            load_checkpoint=commands.load_checkpoint,
            show_message=commands.show_message,
            parent=host,
        )
        menu.insertAction(self.batch_action, self.captioning.open_action)
        add_caption_exports(self.export_menu, self.captioning.exporter, self._state)
        menu.addSeparator()
        menu.addAction(
            make_action(host, "&Quit", QKeySequence.Quit, commands.quit, "Quit AttnScope")
        )

    def _build_decode_menu(
        self, decode_settings: DecodeSettingsPanel, decode_actions: DecodeActions
    ) -> None:
        host, menu = self._host, self.decode_menu
        menu.addActions(decode_actions.all)
        menu.addSeparator()
        self.recommended = RecommendedDecoding(host, decode_settings, host.statusBar())
        menu.addAction(self.recommended.action)
        self.reference_check = ReferenceCheck(
            self._state,
            self._requests,
            self._client,
            show_message=self._commands.show_message,
            parent=host,
        )
        menu.addAction(self.reference_check.action)
        self.toolbar.addSeparator()
        self.toolbar.addAction(self.reference_check.action)

    def add_docks(self, docks: dict[str, QDockWidget]) -> None:
        """A View menu entry that shows or hides each dock."""
        for dock in docks.values():
            self.view_menu.addAction(dock.toggleViewAction())

    def add_view_actions(self, actions: list[QAction]) -> None:
        """More View menu entries (e.g. the heat map's raw scores)."""
        self.view_menu.addSeparator()
        self.view_menu.addActions(actions)

    def add_decode_actions(self, actions: list[QAction], *, toolbar: bool = False) -> None:
        """More Decode menu entries (and toolbar buttons when ``toolbar``)."""
        self.decode_menu.addSeparator()
        self.decode_menu.addActions(actions)
        if toolbar:
            self.toolbar.addSeparator()
            self.toolbar.addActions(actions)
