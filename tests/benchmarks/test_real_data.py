"""benchmarks/real_data.py: the val group says what it needs, and counts a decode's FLOPs."""

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from benchmarks import real_data, workloads
from benchmarks.report import BenchContext, Report


def test_without_val_files_every_figure_is_null_with_the_reason():
    report = Report(size="tiny")
    ctx = BenchContext(workloads.TINY, 1, None, None, "tiny")
    real_data.measure_real_data(ctx, report)
    for key in real_data.KEYS:
        assert report.values.get(key) is None and "--val-src" in report.notes[key]


def test_a_decode_has_products_to_count_and_the_core_a_peak(tiny_translation_checkpoint):
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    per_token = real_data.flops_per_token(model, ["ein mann .", "zwei hunde"], DecodeConfig())
    assert per_token > 0
    assert real_data.sgemm_peak_gflops(size=64, repeats=1) > 0
