"""Captioning in the main window: picture inputs, the File menu entry and the exports.

``CaptioningController`` serves the window's ``CaptionWorkspace``: it
routes pictures to it (files, encoded bytes, decoded pixels, the clipboard)
and opens or runs a decode when one is chosen. ``CaptionExporter`` writes what
the workspace shows (overlay and strip PNGs, the attention grids, the decode
as JSON); ``add_caption_exports`` puts those in the File > Export menu.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from attnscope.engine.errors import ImageInputError
from attnscope.gui import exports
from attnscope.gui.caption_view import CaptionWorkspace, qimage_to_rgb
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.export_actions import no_attributions

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.webp *.bmp *.gif *.tif *.tiff);;All files (*)"


class CaptioningController(QObject):
    """Routes pictures to the caption workspace and opens a decode when one is chosen.

    state: the decode shown; view: the CaptionWorkspace (the window's, in its stack);
    decode_input: starts the decode of a newly chosen picture (Run when live, else open);
    load_checkpoint: for a checkpoint file pasted instead of a picture;
    show_message: tells the user what went wrong; parent: the dialogs' parent.
    ``open_action`` (File > Open image) and ``exporter`` are for the owner's menus.
    """

    def __init__(
        self,
        state: DecodeState,
        view: CaptionWorkspace,
        *,
        decode_input: Callable[[], None],
        load_checkpoint: Callable[[str], None],
        show_message: Callable[[str, str], None],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.view = view
        self.parent_widget = parent
        self._decode_input = decode_input
        self._load_checkpoint = load_checkpoint
        self._show_message = show_message
        self.view.imageChosen.connect(self._on_image_chosen)
        self.view.openRequested.connect(self.open_dialog)
        self.view.pasteRequested.connect(self.paste)
        self.open_action = QAction("Open &image…", parent)
        self.open_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_action.setStatusTip("Open a picture to caption")
        self.open_action.setToolTip("Open a picture to caption (Ctrl+Shift+O)")
        self.open_action.triggered.connect(self.open_dialog)
        self.exporter = CaptionExporter(state, view, parent=parent, show_message=show_message)

    def is_active(self) -> bool:
        return self.state.task == "captioning"

    # -- pictures in -------------------------------------------------
    def open_path(self, path: str) -> None:
        """Caption the picture file at ``path`` (read by the worker)."""
        if not self._refused(Path(path).name):
            self.view.set_image_path(path)

    def open_bytes(self, data: bytes, name: str = "dropped image") -> None:
        """Caption an encoded picture (PNG, JPEG… bytes; decoded by the worker)."""
        if not self._refused(name):
            self.view.set_image_bytes(data, name)

    def open_qimage(self, image: QImage, name: str = "dropped image") -> None:
        """Caption pixels another application handed over already decoded."""
        if self._refused(name):
            return
        try:
            rgb = qimage_to_rgb(image)
        except ImageInputError as exc:
            self._show_message(f"Could not use the {name}: {exc}", "error")
            return
        self.view.set_image_array(rgb, name)

    def _refused(self, name: str) -> bool:
        if self.is_active():
            return False
        self._show_message(
            f"{name} is a picture: load a captioning model first (File > Open, or "
            "File > Open folder for a Hugging Face one).",
            "warning",
        )
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Open image", "", IMAGE_FILTER)
        if path:
            self.open_path(path)

    def paste(self) -> None:
        """Caption the picture (or picture file) on the clipboard."""
        from attnscope.gui.drops import encoded_image, handle_drop

        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not (mime.hasUrls() or mime.hasImage() or encoded_image(mime)):
            self._show_message("The clipboard holds no picture to caption.", "warning")
            return
        handle_drop(
            mime,
            pictures=self,
            load_checkpoint=self._load_checkpoint,
            show_message=self._show_message,
        )

    # -- sessions --------------------------------------------------------
    def model_loaded(self) -> None:
        """A captioner arrived: caption the current picture, or the first example."""
        if not self.is_active():
            return
        examples = self.view.gallery.paths()
        if self.view.image_source() is not None:
            self._on_image_chosen()
        elif examples:
            self.view.set_image_path(examples[0])

    def open_failed(self, message: str) -> None:
        if self.is_active():
            self.view.image_failed(message)

    def _on_image_chosen(self) -> None:
        if self.is_active():
            self._decode_input()

    def show_beam_node(self, node_id: int) -> None:
        """Show a beam hypothesis's words and maps (the docks handle the tree itself)."""
        snapshot = self.state.snapshot
        if not self.is_active() or snapshot is None or snapshot.tree is None:
            return
        tree = snapshot.tree
        path = tree.path(node_id)
        log_probs = [float(tree.scores[n] - tree.scores[tree.parent_ids[n]]) for n in path]
        attention = None if snapshot.node_attention is None else snapshot.node_attention[path]
        self.view.show_hypothesis([snapshot.node_pieces[n] for n in path], log_probs, attention)


# -- File > Export while captioning ------------------------------------------
# label, file filter, default suffix, CaptionExporter method
CAPTION_EXPORTS = (
    ("Overlay of the selected word as PNG…", "PNG image (*.png)", ".png", "overlay_png"),
    ("Strip of every word as PNG…", "PNG image (*.png)", ".png", "strip_png"),
    (
        "Attention grids as NumPy (T, layers, heads, h, w)…",
        "NumPy array (*.npy)",
        ".npy",
        "grids_npy",
    ),
    ("Caption decode as JSON…", "JSON (*.json)", ".json", "decode_json"),
)


class CaptionExporter:
    """Writes the shown caption decode; each method takes the target path.

    Raises ValueError when there is nothing of that kind to write yet.
    ``ask_and_export`` asks where first (File > Export while captioning).
    """

    def __init__(
        self,
        state: DecodeState,
        view: CaptionWorkspace,
        *,
        parent: QWidget,
        show_message: Callable[[str, str], None],
    ) -> None:
        self.state = state
        self.view = view
        self.parent = parent
        self.attributions = no_attributions  # the Explain panel's explained steps
        self.show_message = show_message

    def overlay_png(self, path: str) -> None:
        exports.export_rgb_png(_required(self.view.render_overlay(), "overlay"), path)

    def strip_png(self, path: str) -> None:
        exports.export_rgb_png(_required(self.view.render_strip(), "strip"), path)

    def grids_npy(self, path: str) -> None:
        exports.export_matrix_npy(_required(self.view.attention_grids(), "attention"), path)

    def decode_json(self, path: str) -> None:
        from attnscope.gui.export_actions import decode_record

        source = self.view.image_source()  # a path, or pixels that came from no file
        record = decode_record(
            self.state,
            image=self.view.image_name(),
            image_path=source if isinstance(source, str) else None,
            attributions=self.attributions(),
        )
        exports.export_decode_json(record, path)


def _required(value, what: str):
    if value is None:
        raise ValueError(f"there is no {what} to export yet: caption a picture first")
    return value


def add_caption_exports(menu: QMenu, exporter: CaptionExporter, state: DecodeState) -> None:
    """Add the captioning exports to ``menu``; each task's entries show only for that task."""
    others = list(menu.actions())
    mine = []
    for label, file_filter, suffix, method in CAPTION_EXPORTS:
        action = menu.addAction(label)
        action.setStatusTip(f"Export: {label.rstrip('…').lower()}")
        action.triggered.connect(
            lambda _=False, f=file_filter, s=suffix, m=method: _ask_and_export(exporter, f, s, m)
        )
        mine.append(action)

    def _show_for_task() -> None:
        captioning = state.task == "captioning"
        for action in mine:
            action.setVisible(captioning)
        for action in others:
            action.setVisible(not captioning)

    menu.aboutToShow.connect(_show_for_task)
    _show_for_task()


def _ask_and_export(exporter: CaptionExporter, file_filter: str, suffix: str, method: str) -> None:
    snapshot, show_message = exporter.state.snapshot, exporter.show_message
    if snapshot is None or not snapshot.steps:
        show_message("Nothing to export yet: caption a picture first.", "warning")
        return
    stem = Path(exporter.view.image_name() or "caption").stem
    path, _ = QFileDialog.getSaveFileName(exporter.parent, "Export", f"{stem}{suffix}", file_filter)
    if not path:
        return
    if not Path(path).suffix:
        path += suffix
    try:
        getattr(exporter, method)(path)
    except (OSError, ValueError) as exc:
        show_message(f"Could not export {Path(path).name}: {exc}", "error")
    else:
        show_message(f"Exported {Path(path).name}", "info")
