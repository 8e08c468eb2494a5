"""benchmarks/mask_latency.py: the worker's masked re-caption, timed end to end (one request)."""

from __future__ import annotations

import pytest

from attnscope.engine.resources import resource_dir
from benchmarks import mask_latency

CHECKPOINT = resource_dir() / "checkpoints" / "shapes-attention.safetensors"
PICTURE = resource_dir() / "examples" / "shapes-two.png"


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="needs the bundled shapes checkpoint")
def test_one_request_per_fill_is_timed(qapp):
    result = mask_latency.measure(str(CHECKPOINT), str(PICTURE), ["grey", "blur"], repeats=1)
    assert result["original"] and 0.2 < result["masked_share"] < 0.3  # the centre quarter
    for fill in ("grey", "blur"):
        (worker_ms,), (shown_ms,) = result["times"][fill].values()
        assert 0 < worker_ms <= shown_ms  # the GUI hears of it after the worker took it
