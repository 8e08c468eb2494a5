"""Opening an OpenNMT-py checkpoint: offer the conversion, run it off the GUI thread, open
the converted file.

A ``.pt`` is recognised from its pickle's opcodes alone (``engine.onmt.detect``, no torch
on the GUI thread); the conversion itself (``engine.onmt.convert``, which imports torch)
runs in a background thread and reports back through a queued signal. The source file is
never changed; the converted checkpoint is written where the user says (beside it by
default) and then opened like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from attnscope.engine.onmt.detect import looks_like_onmt_checkpoint

log = logging.getLogger(__name__)

ONMT_SUFFIXES = (".pt", ".pth")
SAVE_FILTER = "AttnScope checkpoints (*.safetensors)"


class OnmtImport(QObject):
    """Offers to convert OpenNMT-py checkpoints that are opened, and opens the result.

    ``open_checkpoint(path)`` opens the converted file; ``show_message(text, level)``
    reports progress and refusals (the window's message bar).
    """

    finished = Signal(str, str)  # (converted path, "") or ("", the error message)

    def __init__(
        self,
        parent: QWidget,
        *,
        open_checkpoint: Callable[[str], None],
        show_message: Callable[[str, str], None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._open = open_checkpoint
        self._show = show_message
        self._thread: threading.Thread | None = None
        self.finished.connect(self._on_finished)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def offer(self, path: str | Path) -> bool:
        """If ``path`` is an OpenNMT-py checkpoint, offer its conversion and return True
        (handled, whatever the user chose); False for any other file."""
        path = Path(path)
        if path.suffix.lower() not in ONMT_SUFFIXES or not looks_like_onmt_checkpoint(path):
            return False
        if self.running:
            self._show("An OpenNMT-py checkpoint is being converted; wait for it first.", "info")
            return True
        target = self._ask_target(path)
        if target is not None:
            self.start(path, target)
        return True

    def _ask_target(self, path: Path) -> Path | None:
        """Where to write the converted file, or None if the user declined."""
        answer = QMessageBox.question(
            self._parent,
            "Import an OpenNMT-py checkpoint",
            f"{path.name} is an OpenNMT-py checkpoint. AttnScope can convert it into its own "
            "format (reading it without running any code it holds) and open the result.\n\n"
            "Choose where to save the converted checkpoint next.",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Ok:
            return None
        chosen, _ = QFileDialog.getSaveFileName(
            self._parent,
            "Save the converted checkpoint",
            str(path.with_suffix(".safetensors")),
            SAVE_FILTER,
        )
        if not chosen:
            return None
        target = Path(chosen)
        return target if target.suffix == ".safetensors" else Path(f"{chosen}.safetensors")

    def start(self, source: Path, target: Path) -> None:
        """Convert ``source`` into ``target`` in a background thread."""
        self._show(f"Converting {source.name} (OpenNMT-py) into {target.name}…", "info")
        self._thread = threading.Thread(
            target=self._convert, args=(source, target), name="onmt-import", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until a running conversion ends (tests; closing the window)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _convert(self, source: Path, target: Path) -> None:
        from attnscope.engine.errors import AttnScopeError
        from attnscope.engine.onmt.convert import convert_onmt

        try:
            written = convert_onmt(source, target)
        except (AttnScopeError, OSError) as exc:
            self.finished.emit("", str(exc))
            return
        except Exception as exc:  # any failure must reach the user, once
            log.exception("converting %s failed", source)
            self.finished.emit("", f"{source.name} could not be converted: {exc}")
            return
        self.finished.emit(str(written), "")

    def _on_finished(self, written: str, error: str) -> None:
        if error:
            self._show(error, "error")
            return
        self._show(f"Converted into {Path(written).name}; opening it.", "info")
        self._open(written)
