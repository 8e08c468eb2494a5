"""Write the toy corpus the OpenNMT-py test fixtures are trained on (no dependencies).

The task: reverse a sequence of 3..7 words. With ``--shared`` source and target use one
word list (a joint vocabulary, for ``-share_embeddings``); without it the target words
are the source words in capitals, so the two vocabularies differ. A correct model
attends to the mirrored source position, which makes the attention easy to read.

    python scripts/make_onmt_fixture_data.py OUT_DIR [--shared]

writes OUT_DIR/{train,valid,test}.{src,tgt} (3000 / 200 / 12 lines, seeded); the last
test line also holds a word outside the vocabulary ("zebra"), which both sides read as <unk>.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

WORDS = [
    "red",
    "green",
    "blue",
    "cyan",
    "pink",
    "gold",
    "gray",
    "teal",
    "navy",
    "lime",
    "plum",
    "rose",
    "oak",
    "elm",
    "ash",
    "fir",
    "yew",
    "pine",
]
SIZES = {"train": 3000, "valid": 200, "test": 12}


def pair(rng: random.Random, shared: bool) -> tuple[str, str]:
    """One (source, target) line pair: target = source reversed (capitalised unless shared)."""
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 7))]
    target = words[::-1] if shared else [w.upper() for w in reversed(words)]
    return " ".join(words), " ".join(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", action="store_true", help="one vocabulary for both sides")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(21)
    for split, count in SIZES.items():
        pairs = [pair(rng, args.shared) for _ in range(count)]
        if split == "test":
            pairs.append(("gold zebra oak", "oak zebra gold" if args.shared else "OAK ZEBRA GOLD"))
        for side, index in (("src", 0), ("tgt", 1)):
            lines = "".join(p[index] + "\n" for p in pairs)
            (args.out / f"{split}.{side}").write_text(lines, encoding="utf-8")


if __name__ == "__main__":
    main()
