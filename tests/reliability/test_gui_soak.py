"""A short soak: ~60 seeded random user actions on the real window; it must keep answering.

The long run (1,000 actions, with resident-memory figures) is benchmarks/soak.py;
memory is not asserted here (it depends on the machine and on what ran before).
"""

from __future__ import annotations

import pytest
from soak import SoakSession, write_soak_files
from window_support import TIMEOUT

ACTIONS = 60


@pytest.fixture(scope="module")
def soak_files(tmp_path_factory):
    return write_soak_files(tmp_path_factory.mktemp("soak"))


@pytest.mark.parametrize("seed", [0, 1])
def test_the_window_keeps_answering_through_random_actions(qtbot, qtlog, window, soak_files, seed):
    window.resize(1100, 750)
    window.show()
    qtbot.waitExposed(window)
    session = SoakSession(window, soak_files, seed=seed)
    assert session.start()
    report = session.run_actions(ACTIONS)
    assert sum(report.done.values()) == ACTIONS
    assert len(report.done) >= 8  # most kinds of action really happened
    assert report.unanswered == []
    assert report.slot_exceptions == [] and report.action_exceptions == []
    assert session.answers(TIMEOUT)  # still answering at the end
    window.close()
    assert window.client.thread.isFinished()
    assert [r.message for r in qtlog.records if "QThread" in r.message] == []
