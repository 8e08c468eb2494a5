"""From a (target pieces × source pieces) matrix to links between a gold file's words.

Gold alignment sets count words their own way: Chinese pre-segmented with
spaces the model's tokenizer never saw, English split at punctuation. So the
words are joined into the text the model expects (``join_words``: no space
next to a character of a script written without spaces, none before closing
punctuation or an English clitic, none after an opening bracket), and each
subword piece is mapped to the word whose characters it covers
(``piece_words``), by character offsets rather than by the ``▁`` word mark. The
tokenizer's NFKC normalisation (full-width ``（`` becomes ``(``) is undone by
normalising the words the same way before matching.

A piece matrix becomes a word matrix (``word_matrix``) by summing over the
pieces of a source word (the attention mass, or the attribution, of the
whole word) and averaging over the pieces of a target word; the source's eos
is left out. Links are read off the piece matrix or the word matrix (``LINK_RULES``).
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence

import numpy as np

from attnscope.engine.pieces import WORD_START

Link = tuple[int, int]  # (source word, target word), 0-based
NO_WORD = -1  # eos, and any piece with no characters of the text

_CLOSING = set(".,!?;:%)]}»、。，！？；：）」』】")
_OPENING = set("([{«（「『【")
_CLITICS = ("'s", "'re", "'ve", "'ll", "'m", "'d", "n't")


def _spaceless(char: str) -> bool:
    """A character of a script written without spaces between words (Han, kana,
    Hangul syllables, Thai, full-width forms)."""
    name = unicodedata.name(char, "")
    return name.startswith(
        ("CJK ", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "FULLWIDTH", "IDEOGRAPHIC")
    )


def join_words(words: Sequence[str]) -> str:
    """The words as running text: a space between two words unless the boundary
    touches a space-less script, closing punctuation or a clitic, or follows an
    opening bracket (``土卫六 上`` -> ``土卫六上``, ``titan .`` -> ``titan.``)."""
    text = ""
    for word in words:
        if text and not _glued(text[-1], word):
            text += " "
        text += word
    return text


def _glued(before: str, word: str) -> bool:
    first = word[0]
    return (
        _spaceless(before)
        or _spaceless(first)
        or before in _OPENING
        or all(c in _CLOSING for c in word)
        or word.lower() in _CLITICS
    )


def _normalised_chars(words: Sequence[str]) -> tuple[str, list[int]]:
    """The words' characters as the tokenizer normalises them (NFKC, no spaces), and
    the word of each character."""
    chars, owners = [], []
    for index, word in enumerate(words):
        for char in word:
            for normal in unicodedata.normalize("NFKC", char):
                if not normal.isspace():
                    chars.append(normal)
                    owners.append(index)
    return "".join(chars), owners


def piece_words(pieces: Sequence[str], words: Sequence[str]) -> list[int]:
    """The word (index into ``words``) of each piece, NO_WORD for eos.

    Pieces and words are matched character by character; a piece whose
    characters match nothing in the words (or that has none: sentencepiece's
    lone ``▁``) joins the word of the next piece that matched, else the previous.
    A piece spanning two words counts for the one holding most of its characters.
    """
    word_chars, owners = _normalised_chars(words)
    piece_chars = []  # (piece index) per character of the pieces' text
    text = []
    for index, piece in enumerate(pieces):
        if _is_control(piece):
            continue
        for char in unicodedata.normalize("NFKC", piece.replace(WORD_START, "")):
            if not char.isspace():
                text.append(char)
                piece_chars.append(index)
    votes: list[dict[int, int]] = [{} for _ in pieces]
    matcher = difflib.SequenceMatcher(None, "".join(text), word_chars, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            tally = votes[piece_chars[block.a + k]]
            word = owners[block.b + k]
            tally[word] = tally.get(word, 0) + 1
    found = [max(tally, key=tally.get) if tally else None for tally in votes]
    return _fill_gaps(found, pieces)


def _is_control(piece: str) -> bool:
    return piece.startswith("<") and piece.endswith(">") and len(piece) > 2


def _fill_gaps(found: list[int | None], pieces: Sequence[str]) -> list[int]:
    """Unmatched pieces take the next matched piece's word, else the previous one's."""
    result = [NO_WORD] * len(found)
    following = None
    for index in range(len(found) - 1, -1, -1):
        if _is_control(pieces[index]):
            continue
        if found[index] is not None:
            following = found[index]
        result[index] = following if following is not None else NO_WORD
    previous = NO_WORD
    for index, word in enumerate(result):
        if _is_control(pieces[index]):
            continue
        if word == NO_WORD:
            result[index] = previous
        previous = result[index]
    return result


def word_matrix(
    matrix: np.ndarray,
    target_words: Sequence[int],
    source_words: Sequence[int],
    shape: tuple[int, int],
) -> np.ndarray:
    """(T pieces, S pieces) -> (target words, source words) of ``shape``: source pieces
    summed per word, target pieces averaged per word; pieces of NO_WORD left out.
    A word with no piece keeps a row (or column) of NaN, so it gets no link."""
    scores = np.asarray(matrix, dtype=np.float64)
    if scores.shape != (len(target_words), len(source_words)):
        raise ValueError(
            f"matrix of shape {scores.shape} does not fit {len(target_words)} target "
            f"and {len(source_words)} source pieces"
        )
    n_target, n_source = shape
    source_index = np.asarray(source_words)
    target_index = np.asarray(target_words)
    columns = np.full((len(target_words), n_source), np.nan)  # (T pieces, source words)
    for word in range(n_source):
        chosen = source_index == word
        if chosen.any():
            columns[:, word] = scores[:, chosen].sum(axis=1)
    words = np.full((n_target, n_source), np.nan)  # (target words, source words)
    for word in range(n_target):
        chosen = target_index == word
        if chosen.any():
            words[word] = columns[chosen].mean(axis=0)
    return words


def piece_links(
    matrix: np.ndarray, target_words: Sequence[int], source_words: Sequence[int]
) -> set[Link]:
    """Each target piece links the word of the source piece it scores highest (eos and
    pieces of no word left out); a word's links are the union of its pieces' links,
    as ``translate --align`` reads attention (engine/alignment.py)."""
    scores = np.asarray(matrix, dtype=np.float64)
    if scores.shape != (len(target_words), len(source_words)):
        raise ValueError(
            f"matrix of shape {scores.shape} does not fit {len(target_words)} target "
            f"and {len(source_words)} source pieces"
        )
    real = [s for s, word in enumerate(source_words) if word != NO_WORD]
    if not real:
        return set()
    links = set()
    for t, target_word in enumerate(target_words):
        if target_word != NO_WORD:
            links.add((source_words[real[int(np.argmax(scores[t, real]))]], target_word))
    return links


def argmax_links(words: np.ndarray) -> set[Link]:
    """Each target word links to the source word it scores highest (NaN words skipped)."""
    links = set()
    for target, row in enumerate(words):
        if np.isnan(row).all():
            continue
        links.add((int(np.nanargmax(row)), target))
    return links


def intersect_links(words: np.ndarray) -> set[Link]:
    """Links that are the argmax both ways: of the target word's row and of the source
    word's column (higher precision, lower recall than ``argmax_links``)."""
    by_column = set()
    for source, column in enumerate(words.T):
        if np.isnan(column).all():
            continue
        by_column.add((source, int(np.nanargmax(column))))
    return argmax_links(words) & by_column


def diagonal_links(source_words: int, target_words: int) -> set[Link]:
    """The baseline that reads nothing: target word j links the source word at the same
    relative place, ``floor((j + 0.5) · S / T)``."""
    return {
        (min(source_words - 1, int((j + 0.5) * source_words / target_words)), j)
        for j in range(target_words)
    }


# how links are read off a piece matrix; "pieces" is the default (chosen on pairs 1-75 of
# the zh-en development set, docs/explain.md)
LINK_RULES = {
    "pieces": "each target piece links the word of its highest-scoring source piece",
    "words": "each target word links its highest-scoring source word (source pieces summed, "
    "target pieces averaged)",
    "intersect": "the 'words' links that are also the source word's highest-scoring target word",
}


def word_links(
    matrix: np.ndarray,
    *,
    source_pieces: Sequence[str],
    target_pieces: Sequence[str],
    source_words: Sequence[str],
    target_words: Sequence[str],
    rule: str = "pieces",
) -> set[Link]:
    """Links between the gold file's words read off ``matrix`` (T pieces, S pieces)."""
    if rule not in LINK_RULES:
        raise ValueError(f"unknown link rule {rule!r}; valid: {', '.join(LINK_RULES)}")
    target_index = piece_words(target_pieces, target_words)
    source_index = piece_words(source_pieces, source_words)
    if rule == "pieces":
        return piece_links(matrix, target_index, source_index)
    words = word_matrix(matrix, target_index, source_index, (len(target_words), len(source_words)))
    return argmax_links(words) if rule == "words" else intersect_links(words)
