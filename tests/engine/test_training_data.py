"""Readers for parallel text, TSV pairs, captions CSV and split files."""

import gzip

import pytest

from attnscope.engine.errors import DataError
from attnscope.engine.training import data


def test_read_parallel_plain_and_gzip(tmp_path):
    (tmp_path / "a.de").write_text("Hallo Welt\nZwei Hunde\n", encoding="utf-8")
    with gzip.open(tmp_path / "a.en.gz", "wt", encoding="utf-8") as handle:
        handle.write("Hello world\r\nTwo dogs\n")
    pairs = data.read_parallel(tmp_path / "a.de", tmp_path / "a.en.gz")
    assert pairs == [
        data.TextPair("Hallo Welt", "Hello world"),
        data.TextPair("Zwei Hunde", "Two dogs"),
    ]


def test_read_parallel_rejects_misaligned_files(tmp_path):
    (tmp_path / "s").write_text("a\nb\n")
    (tmp_path / "t").write_text("a\n")
    with pytest.raises(DataError, match="line-aligned"):
        data.read_parallel(tmp_path / "s", tmp_path / "t")


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        data.read_lines(tmp_path / "nope.txt")


def test_tsv_pairs_pick_columns_and_ignore_extra(tmp_path):
    path = tmp_path / "cmn.txt"
    path.write_text("Hi.\t嗨。\tCC-BY 2.0 #1\n\nRun.\t跑。\tCC-BY #2\n", encoding="utf-8")
    forward = data.read_tsv_pairs(path)
    assert forward == [data.TextPair("Hi.", "嗨。"), data.TextPair("Run.", "跑。")]
    backward = data.read_tsv_pairs(path, source_column=1, target_column=0)
    assert backward[0] == data.TextPair("嗨。", "Hi.")


def test_tsv_pairs_name_the_short_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tb\nonly-one\n")
    with pytest.raises(DataError, match=r"bad.tsv:2"):
        data.read_tsv_pairs(path)
    with pytest.raises(DataError, match="distinct"):
        data.read_tsv_pairs(path, source_column=1, target_column=1)


def test_drop_empty_removes_half_empty_pairs():
    pairs = [data.TextPair("a", "b"), data.TextPair("", "b"), data.TextPair("a", "")]
    assert data.drop_empty(pairs) == [data.TextPair("a", "b")]


def _caption_fixture(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (images / name).write_bytes(b"x")
    captions = tmp_path / "captions.txt"
    captions.write_text(
        "image,caption\n"
        'a.jpg,"A dog , running ."\n'
        "a.jpg,a dog runs\n"
        "b.jpg,two cats\n"
        "c.jpg,a red car\n"
        "missing.jpg,not on disk\n",
        encoding="utf-8",
    )
    splits = tmp_path / "splits.tsv"
    splits.write_text("image\tsplit\na.jpg\ttrain\nb.jpg\tdev\nc.jpg\ttrain\nmissing.jpg\ttrain\n")
    return images, captions, splits


def test_captions_csv_groups_captions_and_keeps_commas(tmp_path):
    _, captions, _ = _caption_fixture(tmp_path)
    table = data.read_captions_csv(captions)
    assert table["a.jpg"] == ["A dog , running .", "a dog runs"]
    assert len(table) == 4


def test_captions_csv_needs_its_header(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("a.jpg,a dog\n")
    with pytest.raises(DataError, match="header"):
        data.read_captions_csv(path)


def test_load_captioned_images_by_split_skips_missing(tmp_path, caplog):
    images, captions, splits = _caption_fixture(tmp_path)
    train = data.load_captioned_images(images, captions, split_path=splits, splits=["train"])
    assert [item.name for item in train] == ["a.jpg", "c.jpg"]
    assert train[0].captions == ("A dog , running .", "a dog runs")
    assert "missing" in caplog.text
    dev = data.load_captioned_images(images, captions, split_path=splits, splits=["dev"])
    assert [item.name for item in dev] == ["b.jpg"]
    everything = data.load_captioned_images(images, captions)
    assert len(everything) == 3
    with pytest.raises(DataError, match="splits there: dev, train"):
        data.load_captioned_images(images, captions, split_path=splits, splits=["test"])


def test_hold_out_is_random_but_reproducible():
    items = list(range(100))
    train, val = data.hold_out(items, 10, seed=3)
    assert len(train) == 90 and len(val) == 10
    assert sorted(train + val) == items
    assert val != items[-10:]
    assert data.hold_out(items, 10, seed=3) == (train, val)
    with pytest.raises(DataError):
        data.hold_out(items, 100)
