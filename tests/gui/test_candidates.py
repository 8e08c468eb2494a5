"""QtCandidatesPanel: sorted bars, the chosen token marked, activation and typed tokens."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6 import QtCore
from PySide6.QtTest import QTest

from attnscope.gui.candidates import Candidate, QtCandidatesPanel

UNSORTED = [
    Candidate(7, "▁le", 0.09),
    Candidate(11, "▁chat", 0.61),
    Candidate(3, "</s>", 0.0004),
    Candidate(52, "▁chien", 0.22),
]


@pytest.fixture
def panel(qtbot):
    view = QtCandidatesPanel()
    qtbot.addWidget(view)
    view.resize(360, 300)
    view.show()
    qtbot.waitExposed(view)
    return view


def _cell_centre(panel: QtCandidatesPanel, row: int, column: int) -> QtCore.QPoint:
    table = panel.table()
    return table.visualRect(table.model().index(row, column)).center()


def test_candidates_are_listed_most_probable_first(panel):
    panel.set_candidates(UNSORTED, chosen_id=52, step=2)
    shown = [c.token_id for c in panel.candidates()]
    assert shown == [11, 52, 7, 3]
    table = panel.table()
    assert [table.item(row, 1).text() for row in range(4)] == ["▁chat", "▁chien", "▁le", "</s>"]
    assert [table.item(row, 2).data(QtCore.Qt.ItemDataRole.UserRole + 1) for row in range(4)] == [
        pytest.approx(0.61),
        pytest.approx(0.22),
        pytest.approx(0.09),
        pytest.approx(0.0004),
    ]
    assert panel._title.text() == "Candidates at step 3"


def test_chosen_token_is_marked(panel):
    panel.set_candidates(UNSORTED, chosen_id=52)
    table = panel.table()
    assert panel.chosen_row() == 1
    assert table.item(1, 1).font().bold()
    assert not table.item(0, 1).font().bold()
    assert table.item(1, 0).text().startswith("▶")
    assert "chosen" in table.item(1, 1).toolTip()


def test_double_click_emits_the_candidate_id_once(panel, qtbot):
    panel.set_candidates(UNSORTED)
    viewport = panel.table().viewport()
    centre = _cell_centre(panel, 2, 1)
    activated = []
    panel.candidateActivated.connect(activated.append)
    # Qt 6 item views only double-click an index that was pressed first
    QTest.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=centre)
    assert activated == []  # a single click only selects
    QTest.mouseDClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=centre)
    assert activated == [7]


def test_enter_on_the_current_row_emits_its_id(panel, qtbot):
    panel.set_candidates(UNSORTED)
    panel.table().setCurrentCell(3, 1)
    with qtbot.waitSignal(panel.candidateActivated) as blocker:
        QTest.keyClick(panel.table(), QtCore.Qt.Key.Key_Return)
    assert blocker.args == [3]


def test_typed_token_is_emitted_and_cleared(panel, qtbot):
    edit = panel.force_edit()
    edit.setText("  ▁chat ")  # QTest.keyClicks only types ASCII
    with qtbot.waitSignal(panel.tokenTyped) as blocker:
        QTest.keyClick(edit, QtCore.Qt.Key.Key_Return)
    assert blocker.args == ["▁chat"]
    assert edit.text() == ""


def test_blank_typed_token_emits_nothing(panel, qtbot):
    edit = panel.force_edit()
    QTest.keyClicks(edit, "   ")
    with qtbot.assertNotEmitted(panel.tokenTyped):
        QTest.keyClick(edit, QtCore.Qt.Key.Key_Return)


def test_set_topk_builds_candidates_and_checks_lengths(panel):
    panel.set_topk([5, 6], ["a", "b"], [0.3, 0.7], chosen_id=6)
    assert panel.candidates() == (Candidate(6, "b", 0.7), Candidate(5, "a", 0.3))
    with pytest.raises(ValueError, match="differ in length"):
        panel.set_topk([5], ["a", "b"], [0.3, 0.7])


def test_vocabulary_feeds_the_completer(panel):
    panel.set_vocabulary(["▁chat", "▁chien"])
    assert panel.force_edit().completer().model().stringList() == ["▁chat", "▁chien"]
