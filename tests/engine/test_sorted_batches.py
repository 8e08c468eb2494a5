"""Length-sorted batches (engine/batch.py): order restored, refused lines in place, windows
written as they finish, and the same outputs as each line decoded alone."""

import io
import json
from types import SimpleNamespace

import pytest

from attnscope.engine import batch
from attnscope.engine.cli import main
from attnscope.engine.errors import InputTextError


def test_sorted_batches_are_stable_and_cover_every_position():
    lengths = [5, 1, 3, 1, 5, 2, 3]
    batches = batch.length_sorted_batches(lengths, 3)
    assert batches == [[1, 3, 5], [2, 6, 0], [4]]  # equal lengths keep input order
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))


class FakeTranslator:
    """Stands in for batch.translate_texts: records each batch; 'BAD' refuses its batch."""

    def __init__(self):
        self.batches = []

    def __call__(self, model, texts, config, *, batch_size=32, cancel=None):
        self.batches.append(list(texts))
        if any("BAD" in text for text in texts):
            raise InputTextError("the source text is BAD")
        return [SimpleNamespace(text=text.upper()) for text in texts]


@pytest.fixture
def fake(monkeypatch):
    translator = FakeTranslator()
    monkeypatch.setattr(batch, "translate_texts", translator)
    return translator


MODEL = SimpleNamespace(src_tokenizer=None)  # no tokenizer: sorted by characters


def test_windows_restore_input_order_and_keep_refused_and_empty_lines_in_place(fake):
    lines = ["ccc", "a", "", "BAD line", "bb", "dddd", "e"]
    windows = list(batch.translate_windows(MODEL, lines, None, batch_size=2, window=4))
    assert len(windows) == 2 and [len(w) for w in windows] == [4, 3]
    outcomes = [o for w in windows for o in w]
    assert [getattr(o, "text", o) for o in outcomes[:3]] == ["CCC", "A", None]
    assert isinstance(outcomes[3], InputTextError)  # only the refused line failed
    assert [o.text for o in outcomes[4:]] == ["BB", "DDDD", "E"]
    # batches are cut from each window sorted by length, not in file order
    assert fake.batches[0] == ["a", "ccc"]
    assert fake.batches[1] == ["BAD line"]


def test_batches_come_from_the_whole_window_not_from_file_order_chunks(fake):
    lines = ["long line here", "x", "another long one", "y"]
    list(batch.translate_windows(MODEL, lines, None, batch_size=2))
    assert fake.batches == [["x", "y"], ["long line here", "another long one"]]


def test_bad_window_and_batch_sizes_are_refused(fake):
    with pytest.raises(ValueError, match="window"):
        list(batch.translate_windows(MODEL, ["a"], None, window=0))


def test_an_interrupted_translate_keeps_every_finished_window(fake, monkeypatch, tmp_path):
    """-o writes OUT.partial window by window; an interrupt leaves the finished windows
    there and no OUT."""
    from attnscope.engine.commands import translate

    monkeypatch.setattr(batch, "SORT_WINDOW", 2)
    lines = ["one", "two", "three", "four", "STOP"]

    def stop_at(model, texts, config, **options):
        if "STOP" in texts:
            raise KeyboardInterrupt
        return fake(model, texts, config, **options)

    monkeypatch.setattr(batch, "translate_texts", stop_at)
    out = tmp_path / "out.txt"
    sink = translate._OrderedOutput(str(out))
    args = SimpleNamespace(batch_size=2, json=False, align=False)
    model = SimpleNamespace(src_tokenizer=None, piece=str)
    with pytest.raises(KeyboardInterrupt):
        translate._translate_lines(model, lines, None, args, None, sink)
    sink.close()
    assert not out.exists()
    assert (tmp_path / "out.txt.partial").read_text() == "ONE\nTWO\nTHREE\nFOUR\n"


def test_sorted_output_equals_each_line_decoded_alone(
    tiny_translation_checkpoint, tmp_path, capsys, monkeypatch
):
    """Batch-mates change nothing but float rounding: the same tokens as one line alone,
    scores within 1e-5 (engine/batch.py's docstring)."""
    from attnscope.engine.decoding import DecodeConfig
    from attnscope.engine.inference import load_inference_model

    lines = [
        "eine frau liest ein buch im park .",
        "ein mann .",
        "",
        "kinder spielen fußball auf der straße . der hund läuft über die wiese .",
        "zwei hunde",
        "der hund läuft .",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    options = ["--beam", "3", "--max-length", "8", "--no-recommended", "--batch-size", "2"]
    assert main(["translate", "-c", str(tiny_translation_checkpoint), *options, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(lines) and rows[2]["pieces"] == []
    model = load_inference_model(tiny_translation_checkpoint, device="cpu")
    config = DecodeConfig(strategy="beam", beam_size=3, max_length=8, max_length_ratio=2.0)
    for line, row in zip(lines, rows, strict=True):
        if not line:
            continue
        (alone,) = model.translate([line], config)
        assert row["source"] == line and row["pieces"] == list(alone.pieces)
        assert row["score"] == pytest.approx(alone.score, abs=1e-5)
