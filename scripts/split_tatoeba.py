"""Carve train / val / test TSV splits out of the Tatoeba cmn-eng pairs file.

    python scripts/split_tatoeba.py ../shared/data/tatoeba-cmn-eng/cmn.txt.gz OUT_DIR

The file is sorted by English length, so it is shuffled with a fixed seed
first. Splitting is by *English sentence*: all Chinese translations of one
English sentence land in the same split, so no test sentence was seen in
training. Each output line keeps the original three columns
(English, Chinese, attribution) — the CC BY 2.0 FR attribution travels with
every pair.
"""

from __future__ import annotations

import argparse
import gzip
import random
from collections import defaultdict
from pathlib import Path


def read_pairs(path: Path) -> list[str]:
    """Non-empty lines of the (optionally gzipped) Tatoeba file, each with 3 columns."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    bad = [i for i, line in enumerate(lines, 1) if line.count("\t") < 2]
    if bad:
        raise SystemExit(
            f"{path}: {len(bad)} lines without 3 tab-separated columns (first: {bad[0]})"
        )
    return lines


def split_by_english(
    lines: list[str], val_size: int, test_size: int, seed: int
) -> dict[str, list[str]]:
    """Shuffle English sentences with ``seed``; fill test, then val, then train."""
    groups: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        groups[line.split("\t", 1)[0]].append(line)
    english = sorted(groups)
    random.Random(seed).shuffle(english)
    splits: dict[str, list[str]] = {"test": [], "val": [], "train": []}
    for sentence in english:
        name = (
            "test"
            if len(splits["test"]) < test_size
            else "val"
            if len(splits["val"]) < val_size
            else "train"
        )
        splits[name].extend(groups[sentence])
    return splits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="cmn.txt or cmn.txt.gz")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--val-size", type=int, default=1000, help="pairs (approximate)")
    parser.add_argument("--test-size", type=int, default=1000, help="pairs (approximate)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    splits = split_by_english(read_pairs(args.source), args.val_size, args.test_size, args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        (args.out_dir / f"{name}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"{name}: {len(rows)} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
