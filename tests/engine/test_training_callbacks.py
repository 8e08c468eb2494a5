"""Progress lines and the JSONL metrics log, fed with hand-made records."""

import io

from attnscope.engine.training.callbacks import MetricsLog, ProgressPrinter, read_metrics


def _batch(step, loss=2.0, tokens=100):
    return {
        "step": step,
        "loss": loss,
        "nll": loss,
        "tokens": tokens,
        "lr": 1e-3,
        "epoch": 1,
        "batch": step,
        "batches": 10,
    }


def test_progress_printer_reports_loss_and_tokens_per_second():
    stream = io.StringIO()
    printer = ProgressPrinter(epochs=3, every_seconds=0.0, stream=stream)
    printer.on_epoch_start(None, {"epoch": 1})
    printer.on_batch_end(None, _batch(5, loss=1.5))
    line = stream.getvalue().strip()
    assert line.startswith("epoch 1/3  step 5  batch 5/10 (50%)  loss 1.500")
    assert "lr 1.0e-03" in line and line.endswith("tok/s")
    printer.on_epoch_end(
        None,
        {
            "epoch": 1,
            "seconds": 12.0,
            "train_loss": 1.2,
            "val_loss": 1.1,
            "val_ppl": 3.0,
            "bleu": 20.5,
            "best": True,
        },
    )
    assert stream.getvalue().splitlines()[-1] == (
        "epoch 1/3 done in 12s  train_loss 1.200  val_loss 1.100  val_ppl 3.00  "
        "bleu 20.500  (best so far)"
    )


def test_metrics_log_averages_windows_and_truncates_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path, every_steps=2)
    for step, loss in ((1, 4.0), (2, 2.0), (3, 1.0), (4, 1.0)):
        log.on_batch_end(None, _batch(step, loss=loss))
    log.on_epoch_end(None, {"epoch": 1, "step": 4, "val_loss": 0.9})
    records = read_metrics(path)
    assert [(r["event"], r["step"]) for r in records] == [("train", 2), ("train", 4), ("epoch", 4)]
    assert records[0]["loss"] == 3.0 and records[1]["loss"] == 1.0
    MetricsLog(path, every_steps=2, resume_step=2)  # a resumed run redoes steps 3..4
    assert [r["step"] for r in read_metrics(path)] == [2]
    MetricsLog(path)  # a new run starts a new log
    assert read_metrics(path) == []
