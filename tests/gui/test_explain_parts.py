"""The Explain panel's plain parts: shares drawn, the mean agreement, throttled progress."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnscope.gui import explain_job
from attnscope.gui.explain_controller import mean_agreement
from attnscope.gui.explain_job import StepAgreement, throttled
from attnscope.gui.explain_views import attribution_shares


def test_shares_are_each_tokens_part_of_the_rows_magnitude():
    scores = np.array([[1.0, -3.0, 0.0], [np.nan] * 3, [0.0, 0.0, 0.0]], dtype=np.float32)
    shares = attribution_shares(scores)
    np.testing.assert_allclose(shares[0], [0.25, 0.75, 0.0])
    assert np.isnan(shares[1]).all()  # not explained: an empty row
    assert (shares[2] == 0).all()  # nothing attributed: no division by zero


def test_the_mean_leaves_undefined_values_out():
    rows = [
        StepAgreement(spearman=0.5, top1=True, jsd=0.1),
        StepAgreement(spearman=math.nan, top1=False, jsd=0.3),
        StepAgreement(spearman=-0.1, top1=True, jsd=math.nan),
    ]
    rho, top1, jsd = mean_agreement(rows)
    assert rho == pytest.approx(0.2) and top1 == 2 and jsd == pytest.approx(0.2)


def test_progress_reaches_the_gui_at_most_30_times_a_second_and_always_at_the_end(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(explain_job.time, "perf_counter", lambda: clock[0])
    sent = []
    progress = throttled(lambda *args: sent.append(args), serial=7)
    for done in range(1, 1001):  # 1000 passes in 0.1 s
        clock[0] = done * 1e-4
        progress(done, 1000)
    assert len(sent) <= 0.1 * 30 + 2
    assert sent[-1] == (7, 1000, 1000)
