"""One input across the epochs of a run trained here: attention, entropy, agreement, metrics."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from attnscope.engine.compare import load_run
from attnscope.engine.compare.epochs import FROM_FINAL_MODEL, FROM_REFERENCE, trace_run
from attnscope.engine.errors import DecodeCancelled

SOURCE = "a b c d"


def test_the_final_output_through_every_epoch(trained_run):
    run = load_run(trained_run)
    calls = []
    trace = trace_run(run, SOURCE, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert trace.output_from == FROM_FINAL_MODEL and trace.output and trace.grid is None
    assert [e.epoch for e in trace.epochs] == [1, 2, 3]
    stack = trace.attention_stack()
    assert stack.shape == (3, len(trace.target_pieces), 1, len(trace.source_pieces))
    np.testing.assert_allclose(stack.sum(axis=-1), 1.0, atol=1e-5)
    final = trace.epochs[-1]
    assert final.jsd_to_final == pytest.approx(0.0, abs=1e-6) and final.top1_to_final == 1.0
    assert all(0.0 <= e.jsd_to_final <= 1.0 and e.entropy >= 0.0 for e in trace.epochs)
    # the final epoch finds its own output at least as likely as the first epoch did
    assert final.log_prob >= trace.epochs[0].log_prob
    assert [epoch for epoch, _ in trace.curve("bleu")] == [1, 2, 3]
    assert [epoch for epoch, _ in trace.curve("entropy")] == [1, 2, 3]
    with pytest.raises(ValueError, match=r"unknown curve 'nope'; valid: entropy"):
        trace.curve("nope")


def test_a_reference_is_traced_and_an_epoch_lost_after_listing_is_skipped(trained_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    run = load_run(folder)
    (folder / "epoch-002.safetensors").unlink()  # gone between listing and loading
    trace = trace_run(run, SOURCE, reference="d c b a")
    assert trace.output_from == FROM_REFERENCE and trace.output == "d c b a"
    assert [e.epoch for e in trace.epochs] == [1, 3]
    assert any(m.startswith("epoch-002.safetensors skipped") for m in trace.skipped)


def test_tracing_is_cancellable_between_epochs(trained_run):
    run = load_run(trained_run)
    calls = []
    with pytest.raises(DecodeCancelled):
        trace_run(
            run,
            SOURCE,
            progress=lambda done, total: calls.append(done),
            cancel=lambda: len(calls) >= 1,
        )
    assert calls == [1]
