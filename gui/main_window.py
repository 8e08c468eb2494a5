"""The main window: menus, docks, drag-and-drop, and the wiring to the worker."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.decode_controls import DecodeActions, DecodeSettingsPanel, RecommendedDecoding
from attnscope.gui.decode_requests import DecodeRequests
from attnscope.gui.device_menu import DeviceMenu
from attnscope.gui.file_translation import FileTranslation
from attnscope.gui.frame_scheduler import FrameScheduler
from attnscope.gui.message_bar import MessageBar
from attnscope.gui.model_panel import ModelPanel
from attnscope.gui.recent import RecentFiles, RecentMenu
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient

log = logging.getLogger(__name__)

FRAME_S = 1 / 60  # snapshots are painted at most this often; the gap keeps input responsive
VIEW_JOB_GAP_S = 0.004  # between two view updates (snapshot, beam tree): repaint and input
PLACEHOLDER_TEXT = "Open a checkpoint (File > Open, or drop a file here)."
CHECKPOINT_FILTER = "Checkpoints (*.safetensors *.attnscope *.pt *.pth);;All files (*)"


class MainWindow(QMainWindow):
    """One window: a workspace matching the checkpoint's task, docks around it."""

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
        # an explicit --device wins; "auto" falls back to the last choice made in the UI
        saved = self.settings.value("model/device", "auto", type=str)
        self.device = saved if device == "auto" else device
        self.client = WorkerClient(self, reserve_cores_for_gui=reserve_cores_for_gui)
        self.summary = None
        self.snapshot = None
        self.selected_step: int | None = None  # the step the user picked; None = the newest
        # view updates run as separate jobs (see FrameScheduler): a paint never stalls for all
        self.frames = FrameScheduler(self, gap_s=VIEW_JOB_GAP_S)
        self._next_paint_at = 0.0  # perf_counter time before which no snapshot is painted
        self.loading: str | None = None  # name of the checkpoint being loaded
        self.recent = RecentFiles(self.settings)
        self.requests = DecodeRequests(self)
        self._build_views()
        self._build_actions()
        self._connect_worker()
        self._restore_settings()
        from attnscope.gui.autosave import SessionAutosave

        self.shutdown_timeout_ms = 2000  # closing waits this long for the worker
        self.autosave = SessionAutosave(self)

    # -- construction --------------------------------------------------
    def _build_views(self) -> None:
        self.message_bar = MessageBar()
        self.translate_view = TranslateWorkspace()
        self.placeholder = QLabel(PLACEHOLDER_TEXT)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.workspaces = QStackedWidget()
        self.workspaces.addWidget(self.placeholder)
        self.workspaces.addWidget(self.translate_view)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.workspaces, 1)
        self.setCentralWidget(central)
        self.model_panel = ModelPanel()
        self.decode_settings = DecodeSettingsPanel()
        self.docks = {
            "model": self._dock("Model", self.model_panel, Qt.LeftDockWidgetArea),
            "decode": self._dock("Decoding", self.decode_settings, Qt.LeftDockWidgetArea),
        }
        self._build_extra_docks()
        self.device_label = QLabel()
        self.speed_label = QLabel()
        self.file_translation = FileTranslation(self)
        self.progress = self.file_translation.progress
        self.cancel_batch = self.file_translation.cancel
        bar = self.statusBar()
        bar.addPermanentWidget(self.speed_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_batch)
        bar.addPermanentWidget(self.device_label)
        self.translate_view.stepSelected.connect(self.select_step)
        self.translate_view.sourceEdited.connect(self._on_source_edited)
        self.decode_settings.changed.connect(self._on_settings_changed)

    def _build_extra_docks(self) -> None:
        """Candidates and beam tree docks (filled by their own modules)."""
        from attnscope.gui.panels import attach_analysis_docks

        attach_analysis_docks(self)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        self.decode_actions = DecodeActions(self)
        acts = self.decode_actions
        acts.step.triggered.connect(self.step)
        acts.run.triggered.connect(self.toggle_run)
        acts.back.triggered.connect(self.back)
        acts.reset.triggered.connect(self.reset)
        toolbar = QToolBar("Decode")
        toolbar.setObjectName("toolbar-decode")
        toolbar.addActions(acts.all)
        self.addToolBar(toolbar)
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.open_action = self._action(
            "&Open checkpoint…", QKeySequence.Open, self.open_dialog, "Open a model checkpoint"
        )
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self._recent_entries = RecentMenu(self.recent_menu, self.recent, self.load_checkpoint)
        from attnscope.gui.demo_menu import DemoMenus

        self.demo_menus = DemoMenus(self, file_menu, before=self.recent_menu.menuAction())
        self.batch_action = self.file_translation.action
        file_menu.addAction(self.batch_action)
        self.export_menu = file_menu.addMenu("&Export")
        from attnscope.gui.export_actions import attach_export_actions

        attach_export_actions(self, self.export_menu)
        from attnscope.gui.caption_controller import CaptioningController

        self.captioning = CaptioningController(self, file_menu, before=self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", QKeySequence.Quit, self.close, "Quit AttnScope"))
        decode_menu = menu.addMenu("&Decode")
        decode_menu.addActions(acts.all)
        decode_menu.addSeparator()
        self.recommended = RecommendedDecoding(self, self.decode_settings, self.statusBar())
        decode_menu.addAction(self.recommended.action)
        from attnscope.gui.reference_check import ReferenceCheck

        self.reference_check = ReferenceCheck(self, decode_menu)
        toolbar.addSeparator()
        toolbar.addAction(self.reference_check.action)
        view_menu = menu.addMenu("&View")
        self.device_menu = DeviceMenu(self, view_menu)
        self.device_group = self.device_menu.group
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(
            self._action("&About AttnScope", None, self.about, "About this program")
        )

    def _action(self, text: str, key, slot, tip: str) -> QAction:
        action = QAction(text, self)
        if key is not None:
            action.setShortcut(QKeySequence(key))
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _connect_worker(self) -> None:
        worker = self.client.worker
        worker.loaded.connect(self._on_model_loaded)
        worker.loadFailed.connect(self._on_load_failed)
        worker.snapshot.connect(self._on_snapshot)
        worker.failed.connect(self._on_worker_failed)
        # bound methods only: a lambda would run in the worker's thread
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.busy.connect(self._on_busy_changed)

    # -- model loading -----------------------------------------------
    def load_checkpoint(self, path: str | Path, *, after_paint: bool = False) -> None:
        """Load ``path`` in the worker; ``after_paint``: send the request once the window
        has drawn itself (the worker's first load imports torch, seconds of busy GIL)."""
        self.statusBar().showMessage(f"Loading {Path(path).name}…")
        self.loading = Path(path).name
        if self.summary is None:  # the first load: the window shows before torch is ready
            self.placeholder.setText(f"Loading {self.loading}…")
        if after_paint:
            QTimer.singleShot(0, self, lambda: self.client.load_checkpoint(str(path), self.device))
        else:
            self.client.load_checkpoint(str(path), self.device)

    def open_dialog(self) -> None:
        start = str(Path(self.recent.paths()[0]).parent) if self.recent.paths() else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", start, CHECKPOINT_FILTER)
        if path:
            self.load_checkpoint(path)

    def _on_model_loaded(self, summary) -> None:
        self.loading = None
        self.summary = summary
        self.snapshot = None
        self.requests.forget()
        self.recent.add(summary.path)
        self.model_panel.set_summary(summary)
        self.decode_settings.set_task(summary.task)
        self.device_menu.model_loaded(summary)
        self.device_label.setText(f"Device: {summary.device}")
        self.workspaces.setCurrentWidget(self._workspace_for(summary.task))
        self.setWindowTitle(f"AttnScope — {summary.name}")
        self.statusBar().showMessage(f"Loaded {summary.name}", 4000)
        self.recommended.model_loaded(summary)  # may replace the message with a hint
        if summary.task == "translation" and not self.translate_view.source().strip():
            self.translate_view.set_source(summary.examples[0] if summary.examples else "")
        self.captioning.model_loaded()
        self.modelLoaded.emit(summary)

    def _workspace_for(self, task: str) -> QWidget:
        views = {"translation": self.translate_view, "captioning": self.caption_view}
        return views.get(task, self.placeholder)

    def _active_view(self) -> QWidget:
        """The workspace showing decodes: translation or captioning."""
        return self.caption_view if self.captioning.is_active() else self.translate_view

    def _on_load_failed(self, path: str, message: str) -> None:
        self.loading = None
        self.placeholder.setText(PLACEHOLDER_TEXT)
        self.statusBar().clearMessage()
        self.show_message(f"Could not open {Path(path).name}: {message}", "error")

    # -- decoding requests (gui/decode_requests.py) ----------------------
    def current_source(self):
        """Text to translate, or the picture to caption (path, bytes or RGB array)."""
        return self.requests.current_source()

    def decode_config(self):
        return self.requests.decode_config()

    def step(self) -> None:
        self.requests.step()

    def toggle_run(self) -> None:
        self.requests.toggle_run()

    def back(self) -> None:
        self.requests.back()

    def reset(self) -> None:
        self.requests.reset()

    def force_token(self, token_id: int) -> None:
        """Replace the selected step's token and let the decode continue live."""
        if self.snapshot is None or not self.snapshot.steps:
            return
        step = (
            self.selected_step if self.selected_step is not None else len(self.snapshot.steps) - 1
        )
        self.requests.force(token_id, step)

    def force_typed_token(self, text: str) -> None:
        if self.summary is None:
            return
        token_id = self.summary.piece_to_id(text.strip())
        if token_id is None:
            self.show_message(f"{text.strip()!r} is not in the target vocabulary.", "warning")
        else:
            self.force_token(token_id)

    def restore_decode(self, source: str, values: dict, plan) -> None:
        """Show ``source`` with decode settings ``values`` and retake a saved decode's steps."""
        self.requests.restore(source, values, plan)

    def _on_source_edited(self) -> None:
        if self.decode_settings.live.isChecked() and self.translate_view.source().strip():
            self.decode_actions.run.setChecked(True)
            self.toggle_run()

    def _on_settings_changed(self) -> None:
        self.decode_settings.save(self.settings)

    # -- results --------------------------------------------------------
    def _on_snapshot(self, snapshot) -> None:
        self.snapshot = snapshot
        if snapshot.done:
            self.decode_actions.run.setChecked(False)
        if not self.frames.pending("snapshot"):  # latest wins: a waiting paint takes the newest
            # at most one paint per frame, and a frame's rest stays free for input events
            self.frames.request("snapshot", self._paint_latest, not_before=self._next_paint_at)
        self.requests.answered()  # a Step/Run that waited for the session goes now

    def _paint_latest(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._show_snapshot()
        self._show_speed(snapshot)
        self._next_paint_at = time.perf_counter() + FRAME_S
        self.snapshotShown.emit(snapshot)

    def _shown_step(self) -> int | None:
        """The step the views show as selected: the user's choice, else the newest."""
        if self.selected_step is not None:
            return self.selected_step
        return len(self.snapshot.steps) - 1 if self.snapshot.steps else None

    def _show_snapshot(self) -> None:
        snapshot, selected = self.snapshot, self._shown_step()
        view = self._active_view()
        if view is self.translate_view:  # the text and chips are a view job of their own
            view.show_attention(snapshot, selected)
            self.frames.request("tokens", self._show_tokens)
        else:
            view.show_snapshot(snapshot, selected)
        self.analysis.show_snapshot(snapshot, selected)

    def _show_tokens(self) -> None:
        if self.snapshot is not None and self._active_view() is self.translate_view:
            self.translate_view.show_tokens(self.snapshot, self._shown_step())

    def select_step(self, step: int) -> None:
        if self.snapshot is None or not 0 <= step < len(self.snapshot.steps):
            return
        self.selected_step = step
        self._active_view().select_step(step)
        self.analysis.show_snapshot(self.snapshot, step)

    def _show_speed(self, snapshot) -> None:
        if snapshot.step_ms:
            ms = sorted(snapshot.step_ms)[len(snapshot.step_ms) // 2]
            self.speed_label.setText(f"{ms:.1f} ms/step · {1000 / max(ms, 1e-6):.0f} tokens/s")

    def _on_worker_cancelled(self) -> None:
        self.statusBar().showMessage("Stopped", 3000)

    def _on_busy_changed(self, busy: bool) -> None:
        cursor = Qt.BusyCursor if busy else Qt.ArrowCursor
        if self.cursor().shape() != cursor:
            self.setCursor(cursor)

    def translate_file(self, src: str, out: str) -> None:
        """Translate every line of ``src`` into ``out`` (see FileTranslation)."""
        self.file_translation.start(src, out)

    # -- messages, drops, settings, closing -----------------------------
    def _on_worker_failed(self, text: str) -> None:
        self.show_message(text, "error")
        self.decode_actions.run.setChecked(False)  # a failed Run has stopped: Run again retries
        if self.requests.failed():  # the source could not be opened: the next request retries
            self.captioning.open_failed(text)

    def show_message(self, text: str, level: str = "error", *, keep: bool = False) -> None:
        log.info("message (%s): %s", level, text)
        self.message_bar.show_message(text, level, keep=keep)

    def dragEnterEvent(self, event) -> None:
        from attnscope.gui.drops import accepts

        if accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        from attnscope.gui.drops import handle_drop

        handle_drop(self, event.mimeData())
        event.acceptProposedAction()

    def about(self) -> None:
        from attnscope.gui.about import show_about

        show_about(self)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.decode_settings.restore(self.settings)
        source = self.settings.value("session/source", "", type=str)
        if source:
            self.translate_view.set_source(source)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("session/source", self.translate_view.source())
        self.decode_settings.save(self.settings)
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
        self.autosave.save_now()
        if not self.client.shutdown(self.shutdown_timeout_ms):
            log.warning("the model worker did not stop within %d ms", self.shutdown_timeout_ms)
        event.accept()
