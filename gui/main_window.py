"""The main window: menus, docks, drag-and-drop, and the wiring to the worker."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.autosave import SessionAutosave
from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.compare_mode import add_compare_modes
from attnscope.gui.decode_controls import DecodeActions, DecodeSettingsPanel
from attnscope.gui.decode_inputs import WorkspaceInputs
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.device_menu import DeviceChoice
from attnscope.gui.explain_window import ExplainTools
from attnscope.gui.file_translation import FileTranslation
from attnscope.gui.frame_scheduler import FrameScheduler
from attnscope.gui.menus import WindowCommands, WindowMenus
from attnscope.gui.message_bar import MessageBar
from attnscope.gui.model_panel import ModelPanel
from attnscope.gui.onmt_import import OnmtImport
from attnscope.gui.panels import AnalysisDocks
from attnscope.gui.recent import RecentFiles
from attnscope.gui.session_files import CHECKPOINT_FILTER
from attnscope.gui.snapshot_painter import SnapshotPainter
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.window_decoding import DecodeCommands
from attnscope.gui.window_parts import DebugTools
from attnscope.gui.window_settings import restore_window, save_window
from attnscope.gui.worker_client import WorkerClient

log = logging.getLogger(__name__)

VIEW_JOB_GAP_S = 0.004  # between two view updates (snapshot, beam tree): repaint and input
VIEW_TURN_S = 0.004  # cheap view updates due together share a turn and one repaint
PLACEHOLDER_TEXT = (
    "Open a checkpoint (File > Open) or a Hugging Face model folder (File > Open folder), "
    "or drop either here."
)


class MainWindow(DecodeCommands, QMainWindow):
    """One window: a workspace matching the checkpoint's task, docks around it.

    ``state`` (a DecodeState) is the decode shown; the window's parts are handed it,
    the worker client and the widgets or callbacks they need, never the window.
    """

    snapshotShown = Signal(object)  # after the views drew a snapshot (tests, benchmarks)
    modelLoaded = Signal(object)

    def __init__(
        self,
        settings: QSettings | None = None,
        device: str = "auto",
        *,
        reserve_cores_for_gui: int | None = None,
    ) -> None:
        """``reserve_cores_for_gui``: when given, the worker leaves that many cores to the GUI."""
        super().__init__()
        self.setWindowTitle("AttnScope")
        self.setAcceptDrops(True)
        self.settings = settings or QSettings()
        self.device_choice = DeviceChoice(self.settings, device)
        self.client = WorkerClient(self, reserve_cores_for_gui=reserve_cores_for_gui)
        self.state = DecodeState(self)
        # view updates run as separate jobs (see FrameScheduler): a paint never stalls for all
        self.frames = FrameScheduler(self, gap_s=VIEW_JOB_GAP_S, turn_s=VIEW_TURN_S)
        self.recent = RecentFiles(self.settings)
        self._message_before_load = ""  # the message bar's text when a load was requested
        self._build_views()
        self.onmt_import = OnmtImport(  # issue 21: an OpenNMT-py .pt is offered a conversion
            self, open_checkpoint=self.load_checkpoint, show_message=self.show_message
        )
        self.requests = DecodeRequests(self.state, self.client, self._decode_inputs())
        self._build_debugger()
        self._build_actions()
        self.explain_tools = ExplainTools(  # Explain a step (issue 17): panel, strip, exports
            self.state,
            self.client,
            views=(self.translate_view, self.caption_view),
            select_step=self.select_step,
            show_message=self.show_message,
            parent=self,
        )
        self.explain_tools.add_to_menus(self.menus)
        self._connect_worker()
        self._restore_settings()
        self.shutdown_timeout_ms = 2000  # closing waits this long for the worker
        self.autosave = self._build_autosave()
        self.session_files = self.debug_tools.add_session_files(  # after the autosave
            self.load_checkpoint, self.menus.file_menu, self.menus.export_menu.menuAction()
        )
        self.compare, self.epochs = add_compare_modes(  # issue 19: two models, a run's epochs
            self.state,
            self.requests,
            workspaces=self.workspaces,
            decode_actions=self.decode_actions,
            device=lambda: self.device_choice.device,
            show_message=self.show_message,
            menu=self.menus.file_menu,
            before=self.batch_action,
            parent=self,
        )

    # -- construction --------------------------------------------------
    def _build_views(self) -> None:
        self.message_bar = MessageBar()
        self.translate_view = TranslateWorkspace()
        self.caption_view = CaptionWorkspace()
        self.placeholder = QLabel(PLACEHOLDER_TEXT)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)  # its line must not set the window's width
        self.workspaces = QStackedWidget()
        for view in (self.placeholder, self.translate_view, self.caption_view):
            self.workspaces.addWidget(view)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.workspaces, 1)
        self.setCentralWidget(central)
        self.model_panel = ModelPanel()
        self.model_panel.languagesChosen.connect(self.client.set_languages)  # mBART, NLLB…
        self.decode_settings = DecodeSettingsPanel()
        self.docks = {
            "model": self._dock("Model", self.model_panel, Qt.LeftDockWidgetArea),
            "decode": self._dock("Decoding", self.decode_settings, Qt.LeftDockWidgetArea),
        }
        self._build_analysis_docks()
        self.decode_actions = DecodeActions(self)
        self._build_status_bar()
        self.painter = SnapshotPainter(
            self.state,
            frames=self.frames,
            translate_view=self.translate_view,
            caption_view=self.caption_view,
            analysis=self.analysis,
            speed_label=self.speed_label,
            parent=self,
        )
        self.painter.shown.connect(self.snapshotShown)
        self.translate_view.stepSelected.connect(self.select_step)
        self.caption_view.stepSelected.connect(self.select_step)
        self.translate_view.sourceEdited.connect(self._on_source_edited)
        self.translate_view.fileDropped.connect(self._open_dropped)  # not pasted as a path
        self.decode_settings.changed.connect(self._on_settings_changed)

    def _build_analysis_docks(self) -> None:
        """Candidates and beam tree docks (filled by gui/panels.py)."""
        self.analysis = AnalysisDocks(
            self.state, frames=self.frames, translate_view=self.translate_view, parent=self
        )
        right = Qt.RightDockWidgetArea
        self.docks["candidates"] = self._dock("Candidates", self.analysis.candidates, right)
        self.docks["beam"] = self._dock("Beam search", self.analysis.beam_tree, right)
        self.analysis.candidates.candidateActivated.connect(self.force_token)
        self.analysis.candidates.tokenTyped.connect(self.force_typed_token)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel()
        self.speed_label = QLabel()
        self.file_translation = FileTranslation(
            self.state,
            self.client,
            decode_config=self.decode_config,
            show_message=self.show_message,
            parent=self,
        )
        self.progress = self.file_translation.progress
        self.cancel_batch = self.file_translation.cancel
        bar = self.statusBar()
        for widget in (self.speed_label, self.progress, self.cancel_batch, self.device_label):
            bar.addPermanentWidget(widget)

    def _build_debugger(self) -> None:
        """Breakpoints, stops, raw scores, the what-ifs and session files (window_parts.py)."""
        self.debug_tools = tools = DebugTools(
            self.state,
            self.client,
            self.requests,
            views=(self.translate_view, self.caption_view, self.workspaces),
            settings=self.settings,
            select_step=self.select_step,
            show_message=self.show_message,
            parent=self,
        )
        self.debugger, self.image_what_if = tools.debugger, tools.image_what_if
        self.breakpoints_dock = self.debugger.dock
        self.docks["breakpoints"] = tools.add_breakpoints_dock(self.docks["candidates"])

    def _decode_inputs(self) -> WorkspaceInputs:
        return WorkspaceInputs(
            self.state,
            translate_view=self.translate_view,
            caption_view=self.caption_view,
            settings_panel=self.decode_settings,
            run_action=self.decode_actions.run,
            show_message=self.show_message,
            show_status=self.statusBar().showMessage,
        )

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        acts = self.decode_actions
        acts.step.triggered.connect(self.step)
        acts.run.triggered.connect(self.toggle_run)
        acts.back.triggered.connect(self.back)
        acts.reset.triggered.connect(self.reset)
        self.menus = menus = WindowMenus(
            self,
            state=self.state,
            client=self.client,
            requests=self.requests,
            translate_view=self.translate_view,
            caption_view=self.caption_view,
            decode_settings=self.decode_settings,
            decode_actions=acts,
            file_translation=self.file_translation,
            recent=self.recent,
            device_choice=self.device_choice,
            commands=WindowCommands(
                open_dialog=self.open_dialog,
                open_folder_dialog=self.open_folder_dialog,
                load_checkpoint=self.load_checkpoint,
                decode_new_picture=self._decode_new_picture,
                show_message=self.show_message,
                about=self.about,
                quit=self.close,
            ),
        )
        menus.add_docks(self.docks)
        menus.add_view_actions([self.debugger.scores_action])
        menus.add_decode_actions(self.debugger.actions)
        self.open_action, self.recent_menu = menus.open_action, menus.recent_menu
        self.demo_menus, self.batch_action = menus.demo_menus, menus.batch_action
        self.export_menu, self.exporter = menus.export_menu, menus.exporter
        self.captioning, self.recommended = menus.captioning, menus.recommended
        self.reference_check, self.device_menu = menus.reference_check, menus.device_menu
        self.device_group = menus.device_menu.group
        self.analysis.beam_tree.nodeSelected.connect(self.captioning.show_beam_node)
        self.analysis.beam_tree.nodeSelected.connect(self.exporter.show_node)  # exports follow

    def _build_autosave(self) -> SessionAutosave:
        autosave = SessionAutosave(
            self.state,
            settings=self.settings,
            translate_view=self.translate_view,
            decode_settings=self.decode_settings,
            current_source=self.current_source,
            restore_decode=self.restore_decode,
            show_message=self.show_message,
            set_languages=self.client.set_languages,
            parent=self,
        )
        self.modelLoaded.connect(autosave.model_loaded)
        self.snapshotShown.connect(autosave.snapshot_shown)
        return autosave

    # -- model loading -----------------------------------------------
    def load_checkpoint(self, path: str | Path, *, after_paint: bool = False) -> None:
        """Load ``path`` in the worker; ``after_paint``: send the request once the window
        has drawn itself (the worker's first load imports torch, seconds of busy GIL)."""
        if self.onmt_import.offer(path):  # converted first, then opened
            return
        self.statusBar().showMessage(f"Loading {Path(path).name}…")
        self.state.loading = Path(path).name
        self._message_before_load = self.message_bar.text()  # stale once this one loads
        if self.state.summary is None:  # the first load: the window shows before torch is ready
            self.placeholder.setText(f"Loading {self.state.loading}…")
        device = self.device_choice.device
        if after_paint:
            QTimer.singleShot(0, self, lambda: self.client.load_checkpoint(str(path), device))
        else:
            self.client.load_checkpoint(str(path), device)

    def open_dialog(self) -> None:
        start = str(Path(self.recent.paths()[0]).parent) if self.recent.paths() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.load_checkpoint(path)

    def open_folder_dialog(self) -> None:
        """File > Open folder…: a Hugging Face model folder (save_pretrained layout)."""
        start = str(Path(self.recent.paths()[0]).parent) if self.recent.paths() else ""
        path = QFileDialog.getExistingDirectory(self, "Open model folder", start)
        if path:
            self.load_checkpoint(path)

    def _on_model_loaded(self, summary) -> None:
        self.state.loading = None
        if self.message_bar.text() and self.message_bar.text() == self._message_before_load:
            self.message_bar.hide()  # e.g. "load a captioning model first": it was just done
        self.state.set_snapshot(None)
        self.state.set_summary(summary)
        self.requests.forget()
        self.recent.add(summary.path)
        self.model_panel.set_summary(summary)
        self.decode_settings.set_task(summary.task)
        self.device_label.setText(f"Device: {summary.device}")
        self.workspaces.setCurrentWidget(self._workspace_for(summary.task))
        self.setWindowTitle(f"AttnScope — {summary.name}")
        self.statusBar().showMessage(f"Loaded {summary.name}", 4000)
        self.recommended.model_loaded(summary)  # may replace the message with a hint
        if summary.task == "translation" and not self.translate_view.source().strip():
            self.translate_view.set_source(summary.examples[0] if summary.examples else "")
        self.captioning.model_loaded()
        self.modelLoaded.emit(summary)  # the autosave may restore the last decode here
        # a session file replays next, or the autosave's once the worker has its language pair
        if self.session_files.opening is None and not self.autosave.asking_for_pair:
            self.requests.decode_on_load()  # else the first screen shows a decode, not nothing

    def _workspace_for(self, task: str) -> QWidget:
        views = {"translation": self.translate_view, "captioning": self.caption_view}
        return views.get(task, self.placeholder)

    def _on_load_failed(self, path: str, message: str) -> None:
        self.state.loading = None
        self.placeholder.setText(PLACEHOLDER_TEXT)
        self.statusBar().clearMessage()
        self.show_message(f"Could not open {Path(path).name}: {message}", "error")

    # -- messages, drops, settings, closing -----------------------------
    def _on_settings_changed(self) -> None:
        self.decode_settings.save(self.settings)

    def show_message(self, text: str, level: str = "error", *, keep: bool = False) -> None:
        log.info("message (%s): %s", level, text)
        self.message_bar.show_message(text, level, keep=keep)

    def dragEnterEvent(self, event) -> None:
        from attnscope.gui.drops import accepts

        if accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self._open_dropped(event.mimeData())
        event.acceptProposedAction()

    def _open_dropped(self, mime) -> None:
        """A drop on the window or a file dropped on the source box (gui/drops.py)."""
        from attnscope.gui.drops import handle_drop

        handle_drop(
            mime,
            pictures=self.captioning,
            load_checkpoint=self.load_checkpoint,
            show_message=self.show_message,
            open_session=self.session_files.open_path,
        )

    def about(self) -> None:
        from attnscope.gui.about import show_about

        show_about(self, self.menuBar())

    def _restore_settings(self) -> None:
        restore_window(self, self.settings, **self._kept_views())

    def save_settings(self) -> None:
        save_window(self, self.settings, **self._kept_views())

    def _kept_views(self) -> dict:
        return {"decode_settings": self.decode_settings, "translate_view": self.translate_view}

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.autosave.save_now()
        if not self.client.shutdown(self.shutdown_timeout_ms):
            log.warning("the model worker did not stop within %d ms", self.shutdown_timeout_ms)
        event.accept()
