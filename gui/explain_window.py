"""The window's "Explain a step" parts (issue 17), built and wired to each other.

``ExplainTools`` makes the Explain panel (a dock, floating over the window's lower part
until the user docks it; hidden until asked for), its controller, its File > Export entries, the Decode menu's Explain
actions, and the step-score strip under the translation heat map whose choice
colours the token chips. Like the window's other parts it is handed the state,
the worker client and the views it needs; the window is its parent, for the dock.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from attnscope.gui.caption_view import CaptionWorkspace
from attnscope.gui.decode_state import DecodeState
from attnscope.gui.explain_controller import ExplainController
from attnscope.gui.explain_exports import ExplainExporter
from attnscope.gui.explain_panel import SELECTED_STEP, WHOLE_OUTPUT, ExplainPanel
from attnscope.gui.menus import WindowMenus, make_action
from attnscope.gui.step_score_strip import StepScoreStrip
from attnscope.gui.translate_view import TranslateWorkspace
from attnscope.gui.worker_client import WorkerClient

FLOAT_SHARE = (0.8, 0.55)  # the floating panel's width and height, as shares of the window's


class ExplainTools(QObject):
    """The Explain panel, its dock, actions and exports, and the step-score strip."""

    def __init__(
        self,
        state: DecodeState,
        client: WorkerClient,
        *,
        views: tuple[TranslateWorkspace, CaptionWorkspace],
        select_step: Callable[[int], None],
        show_message: Callable[..., None],
        parent: QMainWindow,
    ) -> None:
        super().__init__(parent)
        translate_view, caption_view = views
        self.panel = ExplainPanel()
        self.dock = QDockWidget("Explain", parent)
        self.dock.setObjectName("dock-explain")
        self.dock.setWidget(self.panel)
        parent.addDockWidget(Qt.BottomDockWidgetArea, self.dock)
        self.dock.hide()  # it floats when first shown (a floating dock is a window of its own)
        self.controller = ExplainController(
            state,
            client,
            self.panel,
            is_shown=self.dock.isVisible,
            select_step=select_step,
            parent=self,
        )
        self._placed = False  # the floating panel was put over the window once
        self._floated = False  # it was made to float once (the user may dock it after)
        self.dock.visibilityChanged.connect(self._on_dock_visibility_changed)
        self.exporter = ExplainExporter(
            state, self.controller, self.panel, parent=parent, show_message=show_message
        )
        self.strip = StepScoreStrip(state)
        translate_view.splitter.insertWidget(2, self.strip)  # under the heat map
        translate_view.splitter.setStretchFactor(2, 0)
        self.strip.stepSelected.connect(select_step)
        self._chips = (translate_view.chips, caption_view.chips)
        self.strip.scoreChanged.connect(self._on_score_changed)
        self._on_score_changed(self.strip.score())
        self.actions = [
            make_action(
                parent,
                "E&xplain step",
                "Ctrl+E",
                lambda: self.explain(SELECTED_STEP),
                "Attribute the selected step onto the input, beside its attention",
            ),
            make_action(
                parent,
                "Explain whole &output",
                "Ctrl+Alt+E",
                lambda: self.explain(WHOLE_OUTPUT),
                "Attribute every step of the shown output onto the input",
            ),
        ]

    def add_to_menus(self, menus: WindowMenus) -> None:
        """Decode > Explain…, View > Explain (the dock), File > Export > attributions."""
        menus.add_decode_actions(self.actions)
        toggle = self.dock.toggleViewAction()
        toggle.toggled.connect(lambda on: on and self._float_first_time())
        menus.view_menu.addAction(toggle)
        self.exporter.add_actions(menus.export_menu)
        entries = self.controller.attribution_entries  # Whole decode as JSON carries them
        menus.exporter.attributions = menus.captioning.exporter.attributions = entries

    def explain(self, scope: str) -> None:
        """Show the panel and explain ``scope`` (the selected step or the whole output)."""
        self.panel.set_scope(scope)
        if not self.dock.isVisible():
            self._float_first_time()
            self.dock.show()
            self.dock.raise_()
        self.controller.explain()

    def _float_first_time(self) -> None:
        """The panel floats when it is first shown, docked at the bottom it can be dragged
        back; not at start-up, where a floating dock would be a hidden window of its own."""
        if not self._floated:
            self._floated = True
            self.dock.setFloating(True)
            if self.dock.isVisible():
                self._on_dock_visibility_changed(True)

    def _place_floating_dock(self) -> None:
        """A floating panel covers the lower part of the window (docked at the bottom, the
        side-by-side heat maps get too little height at the default window size)."""
        window = self.parent()
        if not self.dock.isFloating():
            return
        frame = window.geometry()
        width, height = int(frame.width() * FLOAT_SHARE[0]), int(frame.height() * FLOAT_SHARE[1])
        left = frame.x() + (frame.width() - width) // 2
        self.dock.setGeometry(left, frame.bottom() - height, width, height)

    def _on_dock_visibility_changed(self, visible: bool) -> None:
        if visible and not self._placed and self.dock.isFloating():
            self._placed = True  # where the user moves it afterwards is theirs
            self._place_floating_dock()
        if visible:
            self.controller.panel_shown()

    def _on_score_changed(self, _name: str) -> None:
        for chips in self._chips:
            chips.set_scoring(self.strip.chip_scoring())
