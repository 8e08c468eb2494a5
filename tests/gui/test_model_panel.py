"""The model panel's training summary: readable lines first, nothing dropped."""

import json

import pytest

from attnscope.gui.model_panel import describe_score, describe_training

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
    assert head.splitlines()[:6] == [
        "Scores:",
        "  dev BLEU-4 15.5 (beam 3)",
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


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("test_bleu_beam5_gnmt1.5", 36.76, "test BLEU 36.76 (beam 5, GNMT α 1.5)"),
        ("val_bleu_greedy", 35.99, "val BLEU 35.99 (greedy)"),
        ("test_chrf_beam5", 55.23, "test chrF 55.23 (beam 5)"),
        ("pointing_accuracy_seed3_n300", 0.816, "pointing accuracy 0.816 (seed 3, 300 samples)"),
        ("my_own_score", 2, "my own score 2"),
    ],
)
def test_score_names_read_as_words_with_their_decoding(name, value, words):
    assert describe_score(name, value) == words


def _summary(task, info):
    from types import SimpleNamespace

    return SimpleNamespace(
        heads=1,
        layers=1,
        tgt_vocab=100,
        src_vocab=100 if task == "translation" else 0,
        name="m.safetensors",
        path="/tmp/m.safetensors",
        task=task,
        architecture="GRU",
        attention="additive",
        parameters=1000,
        device="cpu",
        info=info,
    )


@pytest.mark.parametrize(
    ("task", "info", "shown"),
    [
        ("translation", {"source_language": "de", "target_language": "en"}, "German → English"),
        ("translation", {"source_language": "zh", "target_language": "en"}, "Chinese → English"),
        ("captioning", {"target_language": "en"}, "image → English"),
        ("translation", {}, "not recorded"),
        ("translation", {"source_language": "<i>", "target_language": "en"}, "not recorded"),
    ],
)
def test_the_panel_shows_the_language_pair(qtbot, task, info, shown):
    from attnscope.gui.model_panel import ModelPanel

    panel = ModelPanel()
    qtbot.addWidget(panel)
    panel.set_summary(_summary(task, info))
    assert panel.labels["languages"].text() == shown
