"""Gold word alignments and the alignment error rate (Och & Ney 2003).

A gold file holds one line per sentence pair in Pharaoh format: ``i-j`` is a
sure link and ``ipj`` a possible one between source word ``i`` and target word
``j`` (0-based, or 1-based as many published sets are). The possible links P
include the sure ones S. Against predicted links A::

    precision = |A ∩ P| / |A|      recall = |A ∩ S| / |S|
    AER = 1 - (|A ∩ S| + |A ∩ P|) / (|A| + |S|)

Counts are summed over the corpus before dividing, as the usual AER scripts do.
Every refusal is a ``DataError`` naming the file and the 1-based line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from attnscope.engine.errors import DataError

Link = tuple[int, int]  # (source word, target word), 0-based
PAIR_SEPARATOR = "|||"
MAX_WORDS = 1000  # words per side of one pair: more is not a sentence (and bounds the matrices)
_LINK = re.compile(r"(\d+)([-p])(\d+)")


@dataclass(frozen=True)
class WordPair:
    """One line of a pairs file: the source and target words as the gold file counts them."""

    source: tuple[str, ...]
    target: tuple[str, ...]


@dataclass(frozen=True)
class GoldLinks:
    """The gold links of one pair, 0-based; ``possible`` includes ``sure``."""

    sure: frozenset[Link]
    possible: frozenset[Link]


@dataclass(frozen=True)
class AlignmentCounts:
    """What AER is computed from, summed over the pairs scored."""

    predicted: int = 0  # |A|
    sure: int = 0  # |S|
    sure_hits: int = 0  # |A ∩ S|
    possible_hits: int = 0  # |A ∩ P|

    def __add__(self, other: AlignmentCounts) -> AlignmentCounts:
        return AlignmentCounts(
            self.predicted + other.predicted,
            self.sure + other.sure,
            self.sure_hits + other.sure_hits,
            self.possible_hits + other.possible_hits,
        )

    @property
    def precision(self) -> float:
        return self.possible_hits / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.sure_hits / self.sure if self.sure else 0.0

    @property
    def aer(self) -> float:
        """1 - (|A∩S| + |A∩P|) / (|A| + |S|); 1.0 when there is nothing to count."""
        total = self.predicted + self.sure
        return 1.0 - (self.sure_hits + self.possible_hits) / total if total else 1.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "aer": self.aer,
            "precision": self.precision,
            "recall": self.recall,
            "predicted": self.predicted,
            "sure": self.sure,
            "sure_hits": self.sure_hits,
            "possible_hits": self.possible_hits,
        }


def count_links(predicted: Iterable[Link], gold: GoldLinks) -> AlignmentCounts:
    """The AER counts of one pair's predicted links against its gold links."""
    links = set(predicted)
    return AlignmentCounts(
        predicted=len(links),
        sure=len(gold.sure),
        sure_hits=len(links & gold.sure),
        possible_hits=len(links & gold.possible),
    )


def parse_pair(line: str, *, name: str, number: int) -> WordPair:
    """``source words ||| target words`` -> WordPair; DataError naming ``name`` and line."""
    where = f"{name} line {number}"
    if not line.strip():
        raise DataError(f"{where} is empty; each line must be 'source words ||| target words'")
    parts = line.split(PAIR_SEPARATOR)
    if len(parts) != 2:
        raise DataError(
            f"{where} has {len(parts) - 1} '|||' separators; expected one, as in "
            "'source words ||| target words'"
        )
    source, target = (tuple(part.split()) for part in parts)
    for side, words in (("source", source), ("target", target)):
        if not words:
            raise DataError(f"{where} has no {side} words")
        if len(words) > MAX_WORDS:
            raise DataError(f"{where} has {len(words):,} {side} words; at most {MAX_WORDS:,}")
    return WordPair(source, target)


def parse_gold(line: str, pair: WordPair, *, one_based: bool, name: str, number: int) -> GoldLinks:
    """One Pharaoh line (``0-1 2p3 ...``) for ``pair`` -> GoldLinks, checked against its
    word counts; DataError naming ``name``, the line and the bad link."""
    where = f"{name} line {number}"
    tokens = line.split()
    if not tokens:
        raise DataError(f"{where} is empty; each pair needs its links ('i-j' sure, 'ipj' possible)")
    offset = 1 if one_based else 0
    sure, possible = set(), set()
    for token in tokens:
        match = _LINK.fullmatch(token)
        if match is None:
            raise DataError(
                f"{where}: {token!r} is not a Pharaoh link ('i-j' sure or 'ipj' possible, "
                "i the source word and j the target word)"
            )
        link = (int(match[1]) - offset, int(match[3]) - offset)
        _check_link(link, token, pair, one_based=one_based, where=where)
        possible.add(link)
        if match[2] == "-":
            sure.add(link)
    return GoldLinks(frozenset(sure), frozenset(possible))


def _check_link(link: Link, token: str, pair: WordPair, *, one_based: bool, where: str) -> None:
    base = "1-based" if one_based else "0-based"
    for index, words, side in ((link[0], pair.source, "source"), (link[1], pair.target, "target")):
        if 0 <= index < len(words):
            continue
        hint = ""
        if not one_based and index == len(words):
            hint = "; are the links 1-based? then add --one-based"
        elif one_based and index < 0:
            hint = "; are the links 0-based? then leave out --one-based"
        raise DataError(
            f"{where}: link {token} names {side} word {index + (1 if one_based else 0)} but "
            f"the pair has {len(words)} {side} words ({base}){hint}"
        )


def read_gold_set(
    pair_lines: Sequence[str],
    gold_lines: Sequence[str],
    *,
    one_based: bool,
    pairs_name: str,
    gold_name: str,
) -> list[tuple[WordPair, GoldLinks]]:
    """The pairs and their gold links, every line checked (DataError at the first bad one)."""
    if len(pair_lines) != len(gold_lines):
        raise DataError(
            f"{pairs_name} has {len(pair_lines)} lines but {gold_name} has {len(gold_lines)}; "
            "the gold file needs one line of links per pair"
        )
    if not pair_lines:
        raise DataError(f"{pairs_name} holds no pairs")
    entries = []
    for number, (pair_line, gold_line) in enumerate(zip(pair_lines, gold_lines, strict=True), 1):
        pair = parse_pair(pair_line, name=pairs_name, number=number)
        gold = parse_gold(gold_line, pair, one_based=one_based, name=gold_name, number=number)
        entries.append((pair, gold))
    return entries


def pharaoh_links(links: Iterable[Link], *, one_based: bool = False) -> str:
    """``"0-0 1-2"``: sorted ``source-target`` links, numbered as the gold file is."""
    offset = 1 if one_based else 0
    return " ".join(f"{s + offset}-{t + offset}" for s, t in sorted(links))
