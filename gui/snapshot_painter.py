"""``SnapshotPainter``: draws a DecodeState's view record into the workspace and the docks.

It subscribes to the state: a new snapshot is painted at most once a frame
(the newest wins; the gap leaves the frame's rest to input events), and a
picked step is shown at once. The workspace is the one of the loaded model's
task: the translation view (heat map first, text and chips as a view job of
their own) or the caption view.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.frame_scheduler import FrameScheduler
from attnscope.gui.panels import AnalysisDocks
from attnscope.gui.translate_view import TranslateWorkspace

FRAME_S = 1 / 60  # snapshots are painted at most this often; the gap keeps input responsive
SNAPSHOT_JOB = "snapshot"
TOKENS_JOB = "tokens"


class SnapshotPainter(QObject):
    """Paints ``state.snapshot`` into the active workspace, the analysis docks and the
    speed label; ``shown`` is emitted after each paint."""

    shown = Signal(object)  # the SessionSnapshot just drawn

    def __init__(
        self,
        state: DecodeState,
        *,
        frames: FrameScheduler,
        translate_view: TranslateWorkspace,
        caption_view: CaptionWorkspace,
        analysis: AnalysisDocks,
        speed_label: QLabel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.frames = frames
        self.translate_view = translate_view
        self.caption_view = caption_view
        self.analysis = analysis
        self.speed_label = speed_label
        self._next_paint_at = 0.0  # perf_counter time before which no snapshot is painted
        state.snapshotChanged.connect(self._on_snapshot_changed)
        state.selectedStepChanged.connect(self._on_selected_step_changed)

    def active_view(self) -> QWidget:
        """The workspace showing decodes: translation or captioning."""
        captioning = self.state.task == "captioning"
        return self.caption_view if captioning else self.translate_view

    def select_step(self, step: int) -> None:
        """The user picked step ``step`` (a chip, the timeline, a heat map row)."""
        snapshot = self.state.snapshot
        if snapshot is None or not 0 <= step < len(snapshot.steps):
            return
        if step == self.state.selected_step:  # picked again: show it again
            self._on_selected_step_changed(step)
        self.state.set_selected_step(step)

    def _on_snapshot_changed(self, snapshot) -> None:
        if snapshot is not None and not self.frames.pending(SNAPSHOT_JOB):  # latest wins
            self.frames.request(SNAPSHOT_JOB, self._paint_latest, not_before=self._next_paint_at)

    def _on_selected_step_changed(self, step: int | None) -> None:
        snapshot = self.state.snapshot
        if step is None or snapshot is None:  # back to following the newest step
            return
        self.active_view().select_step(step)
        self.analysis.show_snapshot(snapshot, step)

    def _paint_latest(self) -> None:
        snapshot, selected = self.state.snapshot, self.state.shown_step()
        if snapshot is None:
            return
        view = self.active_view()
        if view is self.translate_view:  # the text and chips are a view job of their own
            view.show_attention(snapshot, selected)
            self.frames.request(TOKENS_JOB, self._show_tokens)
        else:
            view.show_snapshot(snapshot, selected)
        self.analysis.show_snapshot(snapshot, selected)
        self._show_speed(snapshot)
        self._next_paint_at = time.perf_counter() + FRAME_S
        self.shown.emit(snapshot)

    def _show_tokens(self) -> None:
        snapshot = self.state.snapshot
        if snapshot is not None and self.active_view() is self.translate_view:
            self.translate_view.show_tokens(snapshot, self.state.shown_step())

    def _show_speed(self, snapshot) -> None:
        if snapshot.step_ms:
            ms = sorted(snapshot.step_ms)[len(snapshot.step_ms) // 2]
            self.speed_label.setText(f"{ms:.1f} ms/step · {1000 / max(ms, 1e-6):.0f} tokens/s")
