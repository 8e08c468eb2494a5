"""scripts/split_tatoeba.py: fixed-seed splits by English sentence, attribution kept."""

import gzip
from pathlib import Path

import pytest
from script_support import load_script


@pytest.fixture(scope="module")
def splitter():
    return load_script("split_tatoeba")


def write_pairs(path: Path, n: int) -> list[str]:
    """n English sentences, every third with two Chinese translations, gzipped."""
    lines = []
    for i in range(n):
        for j in range(1 + (i % 3 == 0)):
            lines.append(
                f"Sentence {i}.\t句子{i}版{j}。\tCC-BY 2.0 (France) Attribution: #{i} & #{j}"
            )
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n\n")  # the real file ends with an empty line
    return lines


def read_split(folder: Path, name: str) -> list[str]:
    return (folder / f"{name}.tsv").read_text(encoding="utf-8").splitlines()


def test_every_pair_lands_in_exactly_one_split_with_its_attribution(splitter, tmp_path):
    lines = write_pairs(tmp_path / "cmn.txt.gz", 200)
    assert (
        splitter.main(
            [
                str(tmp_path / "cmn.txt.gz"),
                str(tmp_path / "out"),
                "--val-size",
                "20",
                "--test-size",
                "30",
            ]
        )
        == 0
    )
    splits = {name: read_split(tmp_path / "out", name) for name in ("train", "val", "test")}
    assert sorted(row for rows in splits.values() for row in rows) == sorted(lines)
    assert 30 <= len(splits["test"]) <= 31 and 20 <= len(splits["val"]) <= 21
    english = {name: {row.split("\t")[0] for row in rows} for name, rows in splits.items()}
    assert not english["train"] & english["test"]
    assert not english["train"] & english["val"]
    assert not english["val"] & english["test"]
    assert all(row.count("\t") == 2 and "Attribution" in row for row in splits["test"])


def test_the_split_is_shuffled_and_repeatable(splitter, tmp_path):
    write_pairs(tmp_path / "cmn.txt.gz", 200)
    for out in ("a", "b"):
        splitter.main([str(tmp_path / "cmn.txt.gz"), str(tmp_path / out), "--test-size", "30"])
    assert read_split(tmp_path / "a", "test") == read_split(tmp_path / "b", "test")
    numbers = [int(row.split()[1].rstrip(".\t")) for row in read_split(tmp_path / "a", "test")]
    assert max(numbers) > 100  # not the first (shortest) sentences of the sorted file
    splitter.main(
        [str(tmp_path / "cmn.txt.gz"), str(tmp_path / "c"), "--test-size", "30", "--seed", "7"]
    )
    assert read_split(tmp_path / "c", "test") != read_split(tmp_path / "a", "test")


def test_a_line_without_three_columns_is_refused(splitter, tmp_path):
    (tmp_path / "bad.txt").write_text("Hi.\t嗨。\tCC\nno tabs here\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="1 lines without 3"):
        splitter.main([str(tmp_path / "bad.txt"), str(tmp_path / "out")])
