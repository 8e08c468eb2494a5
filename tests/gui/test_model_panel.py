"""The model panel's training summary: readable lines first, nothing dropped."""

import json

from attnscope.gui.model_panel import describe_training

INFO = {
    "trained_by": "attnscope train",
    "epoch": 25,
    "step": 2925,
    "metrics": {"bleu4": 0.1084, "cider": 0.3075, "val_ppl": 50.93, "best": True},
    "scores": {"dev_bleu4_beam3": 15.5},
    "note": "Snapshot after epoch 5.",
    "train_config": {"run": {"seed": 11}},
}


def test_summary_lines_come_first_and_the_full_record_follows():
    text = describe_training(INFO)
    head, _, record = text.partition("Full record:\n")
    assert head.splitlines()[:5] == [
        "Scores: dev_bleu4_beam3 15.5",
        "Epoch 25, step 2,925",
        "Validation: BLEU-4 10.84 · CIDEr-D 0.31 · ppl 50.93",
        "Snapshot after epoch 5.",
        "Trained with attnscope train",
    ]
    assert json.loads(record) == INFO


def test_a_record_without_known_fields_is_shown_as_json_only():
    assert json.loads(describe_training({"custom": [1, 2]})) == {"custom": [1, 2]}


def test_wrongly_typed_fields_are_skipped_not_raised():
    text = describe_training({"epoch": "five", "metrics": "n/a", "scores": [], "note": 3})
    assert json.loads(text) == {"epoch": "five", "metrics": "n/a", "scores": [], "note": 3}
