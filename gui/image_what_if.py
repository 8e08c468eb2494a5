"""The image what-if: re-caption the picture with a mask and compare the captions.

``ImageWhatIf`` serves the caption workspace's mask tools (gui/mask_tools.py):
"Re-caption with mask" sends the original picture, the mask and the fill to
the worker (``WorkerClient.recaption_masked``), which fills the mask and
captions the result in a session of its own with the shown decode's settings,
so the shown decode is never touched. The worker answers twice with a
``MaskedCaption``: after the first new token (with the time since the
request), and when the caption is done. The result panel then shows the new
caption with its changed words highlighted and the word diff
(``engine.decode_diff``); the workspace shows the masked picture and where
the new words looked, and "Show original" brings the original decode back.
"""

from __future__ import annotations

import html
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PySide6 import QtCore, QtWidgets

from attnscope.engine.decode_diff import DecodeDiff, diff_outputs
from attnscope.engine.image_masks import attended_mask, check_mask
from attnscope.gui.decode_state import DecodeState

CHANGED_STYLE = "background:#ffe08a; border-radius:3px; padding:0 2px;"
MASK_SEED = 0  # the noise fill's seed: fixed, so a saved masked session replays exactly


@dataclass(frozen=True, eq=False)
class MaskedCaptionRequest:
    """What the worker re-captions: ``picture`` (H, W, 3) uint8 with ``mask`` (H, W) bool
    filled by ``fill`` (``seed`` drives noise). ``requested_at`` is the perf_counter time
    of the user's request; ``serial`` tells answers to an old request apart."""

    picture: np.ndarray
    mask: np.ndarray
    fill: str
    seed: int
    requested_at: float
    serial: int


@dataclass(frozen=True, eq=False)
class MaskedCaption:
    """The worker's answer: the masked decode's view record (``image`` is the masked
    picture), the ms from the request to its first token, and whether it is finished."""

    serial: int
    snapshot: Any  # SessionSnapshot
    first_token_ms: float
    done: bool


class MaskedCaptionClient(Protocol):
    """The WorkerClient method the what-if calls."""

    def recaption_masked(self, request: MaskedCaptionRequest, decode_config: object) -> None: ...


def _pieces_and_log_probs(snapshot) -> tuple[list[str], list[float]]:
    return [s.piece for s in snapshot.steps], [float(s.log_prob) for s in snapshot.steps]


def caption_diff(original, masked) -> DecodeDiff:
    """The word diff of two SessionSnapshots' hypotheses (original before, masked after)."""
    return diff_outputs(*_pieces_and_log_probs(original), *_pieces_and_log_probs(masked))


def highlighted_caption(diff: DecodeDiff) -> str:
    """The new caption as rich text, its replaced and inserted words highlighted."""
    words = []
    for word, changed in zip(diff.after, diff.changed_after(), strict=True):
        text = html.escape(word.text)
        tip = html.escape(f"p {word.probability:.2f}", quote=True)
        style = CHANGED_STYLE if changed else ""
        words.append(f'<span style="{style}" title="{tip}">{text}</span>')
    return " ".join(words) or "<i>(empty caption)</i>"


class MaskedResultPanel(QtWidgets.QFrame):
    """The re-caption's result: the new caption, the diff line, the timing, and a switch
    between the masked and the original decode in the workspace."""

    showMaskedRequested = QtCore.Signal(bool)  # True: show the masked decode; False: the original

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.title = QtWidgets.QLabel()
        self.caption = QtWidgets.QLabel()
        self.caption.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet("font-size: 15px;")
        self.diff_line = QtWidgets.QLabel()
        self.diff_line.setWordWrap(True)
        self.diff_line.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.switch = QtWidgets.QPushButton("Show original")
        self.switch.setCheckable(True)
        self.switch.setToolTip(
            "Switch the picture and the words between the masked and the original decode"
        )
        self.switch.toggled.connect(self._on_switch_toggled)
        self.close_button = QtWidgets.QToolButton()
        self.close_button.setText("Close")
        self.close_button.setToolTip("Hide this result and show the original decode")
        self.close_button.clicked.connect(self.dismiss)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.switch)
        top.addWidget(self.close_button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.caption)
        layout.addWidget(self.diff_line)
        self.hide()

    def show_pending(self, fill: str, share: float) -> None:
        self.title.setText(f"<b>Re-captioning</b> with {100 * share:.1f} % of the picture {fill}…")
        self.caption.setText("")
        self.diff_line.setText("")
        self.switch.setEnabled(False)
        self.show()

    def show_first_token(self, result: MaskedCaption) -> None:
        words = " ".join(s.piece.lstrip("▁") for s in result.snapshot.steps)
        self.caption.setText(html.escape(words) + " …")
        self.diff_line.setText(f"First new word after {result.first_token_ms:.0f} ms")

    def show_result(self, result: MaskedCaption, diff: DecodeDiff, fill: str) -> None:
        verdict = "changed" if diff.changed else "unchanged"
        self.title.setText(f"<b>Caption with the mask ({fill})</b>: {verdict}")
        self.caption.setText(highlighted_caption(diff))
        self.diff_line.setText(
            f"{diff.describe()} · first new word after {result.first_token_ms:.0f} ms"
        )
        self.switch.setEnabled(True)
        self.set_showing_masked(True)
        self.show()

    def show_failure(self, message: str) -> None:
        self.title.setText("<b>Re-caption failed</b>")
        self.caption.setText(html.escape(message))
        self.switch.setEnabled(False)

    def set_showing_masked(self, masked: bool) -> None:
        """Follow what the workspace shows, without asking for it again."""
        with QtCore.QSignalBlocker(self.switch):
            self.switch.setChecked(not masked)
            self.switch.setText("Show masked" if not masked else "Show original")

    def dismiss(self) -> None:
        if self.isVisible() and not self.switch.isChecked() and self.switch.isEnabled():
            self.showMaskedRequested.emit(False)
        self.hide()

    def _on_switch_toggled(self, original: bool) -> None:
        self.switch.setText("Show masked" if original else "Show original")
        self.showMaskedRequested.emit(not original)


class ImageWhatIf(QtCore.QObject):
    """Re-captions the shown picture under the workspace's mask and shows the diff.

    state: the shown decode (never changed here); view: the CaptionWorkspace with
    ``masks`` (MaskLayer), ``mask_bar`` (MaskToolbar) and ``what_if_panel``;
    client: has ``recaption_masked``; worker: emits ``maskedCaption`` and ``failed``;
    show_message(text, level): tells the user what went wrong.
    """

    def __init__(
        self,
        state: DecodeState,
        view,
        *,
        client: MaskedCaptionClient,
        worker: QtCore.QObject,
        show_message: Callable[[str, str], None],
        parent: QtCore.QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state, self.view, self.client = state, view, client
        self._show_message = show_message
        self._serials = itertools.count(1)
        self._pending: MaskedCaptionRequest | None = None
        self.result: MaskedCaption | None = None  # the last finished re-caption
        self.diff: DecodeDiff | None = None
        self.fill_used = ""
        self.mask_used: np.ndarray | None = None  # (H, W) bool of the last re-caption
        self.shown_ms: float | None = None  # request -> first token drawn in the GUI thread
        view.mask_bar.recaptionRequested.connect(self.recaption)
        view.mask_bar.maskWordRequested.connect(self.mask_selected_word)
        view.what_if_panel.showMaskedRequested.connect(self._on_show_masked_requested)
        view.maskedViewChanged.connect(view.what_if_panel.set_showing_masked)
        view.imageChosen.connect(self._forget)
        state.selectedStepChanged.connect(self._on_selected_step_changed)
        state.snapshotChanged.connect(self._on_selected_step_changed)
        worker.maskedCaption.connect(self._on_masked_caption)
        worker.failed.connect(self._on_worker_failed)

    # -- requests --------------------------------------------------------
    def recaption(self) -> bool:
        """Send the masked picture to the worker; False (with a message) when it cannot."""
        requested_at = time.perf_counter()
        snapshot = self.state.snapshot
        problem = self._problem(snapshot)
        if problem:
            self._show_message(problem, "warning")
            return False
        mask = self.view.masks.mask()
        try:
            check_mask(mask, snapshot.image.shape)
        except ValueError as exc:
            self._show_message(f"Cannot re-caption with this mask: {exc}", "warning")
            return False
        fill = self.view.mask_bar.fill()
        request = MaskedCaptionRequest(
            snapshot.image, mask, fill, MASK_SEED, requested_at, next(self._serials)
        )
        self._pending = request
        self.view.mask_bar.set_busy(True)
        self.view.what_if_panel.show_pending(fill, float(mask.mean()))
        self.client.recaption_masked(request, self.state.decode_config)
        return True

    def _problem(self, snapshot) -> str | None:
        if self.state.task != "captioning" or snapshot is None or snapshot.image is None:
            return "Caption a picture first: the mask is drawn over the captioned picture."
        if not snapshot.done:
            return "Finish the caption first (Run, F5): the masked caption is compared with the whole original."
        if self.view.masks.mask() is None:
            return "Draw a mask on the picture first (the Rectangle or Brush tool), or mask what a word looked at."
        return None

    def mask_selected_word(self) -> bool:
        """Mask the cells holding the toolbar's share of the selected word's attention."""
        snapshot, step = self.state.snapshot, self.state.shown_step()
        if snapshot is None or snapshot.image is None or snapshot.grid is None or step is None:
            self._show_message("Caption a picture and select a word first.", "warning")
            return False
        if snapshot.attention is None:
            self._show_message("This model has no attention to follow.", "warning")
            return False
        self.view.show_snapshot(snapshot, step)  # the word is the original decode's
        weights = np.asarray(snapshot.attention[step]).reshape(-1, *snapshot.grid)  # (heads, h, w)
        share = self.view.mask_bar.attention_share()
        try:
            self.view.masks.set_mask(attended_mask(weights, snapshot.image.shape[:2], share))
        except ValueError as exc:
            self._show_message(f"Cannot mask what that word looked at: {exc}", "warning")
            return False
        word = snapshot.steps[step].piece.lstrip("▁")
        self._show_message(
            f"Masked the cells holding {100 * share:.0f} % of the attention of word {step + 1} "
            f"“{word}”; Re-caption with mask ({self.view.mask_bar.recaption_action.shortcut().toString()}) "
            "to see whether the caption changes.",
            "info",
        )
        return True

    # -- answers ---------------------------------------------------------
    @QtCore.Slot(object)
    def _on_masked_caption(self, result: MaskedCaption) -> None:
        request = self._pending
        if request is None or result.serial != request.serial:
            return  # an answer to a request the user has moved on from
        if not result.done:
            self.shown_ms = (time.perf_counter() - request.requested_at) * 1000
            self.view.what_if_panel.show_first_token(result)
            return
        self._pending = None
        self.view.mask_bar.set_busy(False)
        original = self.state.snapshot
        if original is None or original.image is not request.picture:
            self.view.what_if_panel.hide()  # the picture changed meanwhile
            return
        self.result, self.fill_used, self.mask_used = result, request.fill, request.mask
        self.diff = caption_diff(original, result.snapshot)
        self.view.show_masked_decode(result.snapshot)
        self.view.what_if_panel.show_result(result, self.diff, request.fill)

    @QtCore.Slot(str)
    def _on_worker_failed(self, message: str) -> None:
        if self._pending is not None:
            self._pending = None
            self.view.mask_bar.set_busy(False)
            self.view.what_if_panel.show_failure(message)

    def shown_masked(self) -> tuple | None:
        """(the masked re-caption's snapshot, its ImageMask) while the view shows it, else
        None: what Save session writes then (gui/session_files.py)."""
        if self.result is None or self.mask_used is None or not self.view.showing_masked():
            return None
        from attnscope.engine.interventions import ImageMask

        mask = ImageMask(mask=self.mask_used, fill=self.fill_used, seed=MASK_SEED)
        return self.result.snapshot, mask

    def _on_show_masked_requested(self, masked: bool) -> None:
        if masked and self.result is not None:
            self.view.show_masked_decode(self.result.snapshot)
        elif self.state.snapshot is not None:
            self.view.show_snapshot(self.state.snapshot, self.state.shown_step())

    def _on_selected_step_changed(self, _value=None) -> None:
        """Name the word "Mask what … looked at" would use: the selected one, else the newest."""
        snapshot, step = self.state.snapshot, self.state.shown_step()
        action = self.view.mask_bar.mask_word_action
        if snapshot is None or step is None or not 0 <= step < len(snapshot.steps):
            action.setText("Mask what the word looked at")
            return
        word = snapshot.steps[step].piece.lstrip("▁") or "␣"
        action.setText(f"Mask what word {step + 1} “{word}” looked at")

    def _forget(self) -> None:
        """A new picture: its mask and results start afresh."""
        self._pending, self.result, self.diff = None, None, None
        self.view.mask_bar.set_busy(False)
        self.view.what_if_panel.hide()
