"""The Explain panel: which explanation to compute, and attention beside attribution.

The panel is a view: it offers a method (gradient saliency, input x gradient,
integrated gradients, occlusion), an optional foil ("why this token rather than
that candidate?") and a scope (the selected step, or the whole output), shows the
progress of the work with a Cancel button (Esc), the two views side by side
(gui/explain_views.py) and the agreement of attention and attribution. What it
computes and when is gui/explain_controller.py's business.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from attnscope.gui.explain_views import ImageExplainView, TextExplainView

# engine method name -> what the picker says (attnscope.engine.explain.METHODS)
METHOD_LABELS = {
    "saliency": "Gradient saliency",
    "input_x_gradient": "Input × gradient",
    "ig": "Integrated gradients",
    "occlusion": "Occlusion",
}
METHOD_TIPS = {
    "saliency": "The L2 norm of the gradient of log p(token) at each source embedding",
    "input_x_gradient": "Each source embedding times its gradient, summed over the embedding",
    "ig": "Integrated gradients from a pad (or black) baseline, 32 interpolation steps",
    "occlusion": "How much log p(token) drops when each source token or grid cell is masked",
}
SELECTED_STEP = "step"
WHOLE_OUTPUT = "output"
NO_FOIL = "(no foil)"


class ExplainPanel(QWidget):
    """Method, foil and scope pickers, progress, and the side-by-side views.

    Signals: ``explainRequested`` (the Explain button), ``cancelRequested`` (Cancel or
    Esc), ``choiceChanged`` (method, foil or scope), ``stepSelected(step)`` (a row).
    """

    explainRequested = Signal()
    cancelRequested = Signal()
    choiceChanged = Signal()
    stepSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build_controls()
        self.text_view = TextExplainView()
        self.image_view = ImageExplainView()
        self.views = QStackedWidget()
        self.views.addWidget(self.text_view)
        self.views.addWidget(self.image_view)
        self.agreement_label = QLabel("")
        self.agreement_label.setWordWrap(True)
        self.agreement_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.agreement_label.setToolTip(
            "How far attention and attribution agree: Spearman's rho of their rankings of "
            "the source tokens, whether their top token is the same, and the Jensen-Shannon "
            "divergence of the two as distributions (0 = the same, ln 2 = disjoint)"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._controls)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.agreement_label)
        self.text_view.stepSelected.connect(self.stepSelected)
        self.set_busy(False)

    def _build_controls(self) -> None:
        self.method_combo = QComboBox()
        for name, label in METHOD_LABELS.items():
            self.method_combo.addItem(label, name)
            self.method_combo.setItemData(
                self.method_combo.count() - 1, METHOD_TIPS[name], Qt.ToolTipRole
            )
        self.method_combo.setToolTip("How the attribution is computed")
        self.foil_combo = QComboBox()
        self.foil_combo.setToolTip(
            "Contrast: explain log p(token) - log p(foil), 'why this token rather than the "
            "foil?' (a candidate of the selected step)"
        )
        self.step_button = QRadioButton("Selected step")
        self.step_button.setToolTip("Explain only the step selected in the heat map or chips")
        self.output_button = QRadioButton("Whole output")
        self.output_button.setToolTip("Explain every step of the shown output")
        self.step_button.setChecked(True)
        self.scope_group = QButtonGroup(self)
        self.scope_group.addButton(self.step_button)
        self.scope_group.addButton(self.output_button)
        self.explain_button = QPushButton("Explain")
        self.explain_button.setToolTip(
            "Compute the attribution of the chosen scope (Ctrl+E: the selected step, "
            "Ctrl+Alt+E: the whole output)"
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the attribution (Esc)")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(True)
        self.status_label = QLabel("")
        bar = QHBoxLayout()
        for widget in (
            QLabel("Method:"),
            self.method_combo,
            QLabel("Foil:"),
            self.foil_combo,
            self.step_button,
            self.output_button,
            self.explain_button,
            self.cancel_button,
            self.progress,
            self.status_label,
        ):
            bar.addWidget(widget)
        bar.addStretch(1)
        self._controls = bar
        self.method_combo.currentIndexChanged.connect(self.choiceChanged)
        self.foil_combo.currentIndexChanged.connect(self.choiceChanged)
        self.scope_group.buttonToggled.connect(self._on_scope_toggled)
        self.explain_button.clicked.connect(self.explainRequested)
        self.cancel_button.clicked.connect(self.cancelRequested)

    # -- choices ------------------------------------------------------------
    def method(self) -> str:
        return self.method_combo.currentData()

    def set_method(self, name: str) -> None:
        index = self.method_combo.findData(name)
        if index < 0:
            raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHOD_LABELS)}")
        self.method_combo.setCurrentIndex(index)

    def scope(self) -> str:
        return WHOLE_OUTPUT if self.output_button.isChecked() else SELECTED_STEP

    def set_scope(self, scope: str) -> None:
        (self.output_button if scope == WHOLE_OUTPUT else self.step_button).setChecked(True)

    def foil(self) -> int | None:
        """The chosen foil's token id, None without one (or for the whole output)."""
        return self.foil_combo.currentData() if self.scope() == SELECTED_STEP else None

    def set_foils(self, candidates: list[tuple[int, str, float]]) -> None:
        """Offer ``candidates`` (token id, piece, probability) as foils; keeps the chosen
        one when it is still offered, else none. Emits nothing."""
        kept = self.foil_combo.currentData()
        self.foil_combo.blockSignals(True)
        self.foil_combo.clear()
        self.foil_combo.addItem(NO_FOIL, None)
        for token_id, piece, prob in candidates:
            self.foil_combo.addItem(f"{piece}  (p = {prob:.3f})", token_id)
        self.foil_combo.setCurrentIndex(max(0, self.foil_combo.findData(kept)))
        self.foil_combo.blockSignals(False)

    def set_foil(self, token_id: int | None) -> None:
        self.foil_combo.setCurrentIndex(max(0, self.foil_combo.findData(token_id)))

    # -- progress -----------------------------------------------------------
    def set_busy(self, busy: bool, status: str = "") -> None:
        """Show work running (progress, Cancel) or not; ``status`` says what happened."""
        self.cancel_button.setEnabled(busy)
        self.progress.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)  # busy until the first progress report
        self.status_label.setText(status)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def busy(self) -> bool:
        return self.cancel_button.isEnabled()

    def show_image_view(self, image: bool) -> None:
        self.views.setCurrentWidget(self.image_view if image else self.text_view)

    def _on_scope_toggled(self, _button, checked: bool) -> None:
        if checked:
            self.foil_combo.setEnabled(self.scope() == SELECTED_STEP)
            self.choiceChanged.emit()

    # Esc is the window's Reset shortcut; while the work runs, Esc in the panel cancels it
    # instead: the panel takes the key before the shortcut (ShortcutOverride) and handles
    # the key press its focused child passes up.
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.ShortcutOverride and event.key() == Qt.Key_Escape and self.busy():
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key_Escape and self.busy():
            self.cancelRequested.emit()
            return
        super().keyPressEvent(event)
