"""The main window's decode: its requests and the model worker's answers.

``DecodeCommands`` is a part of MainWindow (gui/main_window.py): Step, Run, Back,
Reset, forcing a token and restoring a decode go to DecodeRequests
(gui/decode_requests.py); the worker's snapshots, failures, cancels and busy state
come back here (a model load's answers go to the window's own handlers). It uses
the window's ``state``, ``client``, ``requests``, views, ``decode_settings``,
``decode_actions``, ``painter``, ``file_translation``, ``captioning`` and
``show_message``; as the window's own methods, its slots run in the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt


class DecodeCommands:
    """The window's decode requests and the worker's answers (see the module docstring)."""

    # -- requests (gui/decode_requests.py) -----------------------------
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
        step = self.state.shown_step()
        if step is not None:
            self.requests.force(token_id, step)

    def force_typed_token(self, text: str) -> None:
        summary = self.state.summary
        if summary is None:
            return
        token_id = summary.piece_to_id(text.strip())
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

    def _decode_new_picture(self) -> None:
        """A picture was chosen: caption it live (Run), else open its session."""
        if self.decode_settings.live.isChecked():
            self.decode_actions.run.setChecked(True)
            self.toggle_run()  # opens the session, then runs once it has answered
        else:
            self.requests.ensure_session()

    # -- the worker's answers --------------------------------------------
    def _connect_worker(self) -> None:
        worker = self.client.worker
        worker.loaded.connect(self._on_model_loaded)
        worker.loadFailed.connect(self._on_load_failed)
        worker.snapshot.connect(self._on_worker_snapshot)
        worker.failed.connect(self._on_worker_failed)
        # bound methods only: a lambda would run in the worker's thread
        worker.cancelled.connect(self._on_worker_cancelled)
        worker.busy.connect(self._on_busy_changed)
        self.client.answered.connect(self.requests.passed)  # an opening's fence (its ping)

    def _on_worker_snapshot(self, snapshot) -> None:
        if self.requests.stale():
            return  # a late snapshot of the session replaced by the one being opened
        self.state.set_snapshot(snapshot)
        if snapshot.done:
            self.decode_actions.run.setChecked(False)
        self.requests.answered()  # a Step/Run that waited for the session goes now

    def select_step(self, step: int) -> None:
        """Show step ``step`` as selected (a chip, the timeline, a heat map row)."""
        self.painter.select_step(step)

    def _on_worker_cancelled(self) -> None:
        self.statusBar().showMessage("Stopped", 3000)

    def _on_busy_changed(self, busy: bool) -> None:
        cursor = Qt.BusyCursor if busy else Qt.ArrowCursor
        if self.cursor().shape() != cursor:
            self.setCursor(cursor)

    def translate_file(self, src: str, out: str) -> None:
        """Translate every line of ``src`` into ``out`` (see FileTranslation)."""
        self.file_translation.start(src, out)

    def _on_worker_failed(self, text: str) -> None:
        self.show_message(text, "error")
        self.decode_actions.run.setChecked(False)  # a failed Run has stopped: Run again retries
        if self.requests.failed():  # the source could not be opened: the next request retries
            self.captioning.open_failed(text)
