"""benchmarks/real_data.py: the val group says what it needs; the core has a peak to compare."""

from benchmarks import real_data, workloads
from benchmarks.report import BenchContext, Report


def test_without_val_files_every_figure_is_null_with_the_reason():
    report = Report(size="tiny")
    ctx = BenchContext(workloads.TINY, 1, None, None, "tiny")
    real_data.measure_real_data(ctx, report)
    for key in real_data.KEYS:
        assert report.values.get(key) is None and "--val-src" in report.notes[key]


def test_the_sgemm_peak_is_a_rate():
    assert real_data.sgemm_peak_gflops(size=64, repeats=1) > 0
