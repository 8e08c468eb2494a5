"""Coverage: how much attention each source position has received so far.

Coverage of source position s after step t is the attention it got, heads
averaged, summed over steps 0..t (Tu et al. 2016 call it the coverage vector).
A position the decode never looked at stays near 0 (a likely omission); one it
kept returning to climbs past 1 (a likely over-translation).

A word split into subwords is mostly attended through its first piece, so the
omission check reads coverage per word (``word_coverage``): a word is missed
when all its pieces together got little attention.

For text the source ends with its end-of-sentence position (the ``</s>`` the
encoder appends); models park attention there, so the omission and
over-translation checks leave it out (``content_positions``). A picture's grid
cells have no such position.
"""

from __future__ import annotations

import numpy as np

from attnscope.engine.alignment import word_index


def head_average(attention: np.ndarray) -> np.ndarray:
    """(T, heads, S) attention -> (T, S) float32, heads averaged."""
    attention = np.asarray(attention, dtype=np.float32)
    if attention.ndim != 3:
        raise ValueError(f"attention must be (T, heads, S), got shape {attention.shape}")
    if attention.shape[1] == 0:
        raise ValueError("attention has no heads")
    return attention.mean(axis=1)


def running_coverage(attention: np.ndarray) -> np.ndarray:
    """(T, heads, S) attention -> (T, S) float32: row t is the coverage after step t."""
    return np.cumsum(head_average(attention), axis=0, dtype=np.float32)


def content_positions(source_length: int, *, source_eos: bool) -> int:
    """How many leading source positions are content: all but the text's final ``</s>``."""
    if source_length < 0:
        raise ValueError(f"source_length must be >= 0, got {source_length}")
    return max(source_length - 1, 0) if source_eos else source_length


def word_starts(source_pieces) -> np.ndarray:
    """(W,) int64 index of each word's first piece (a piece starting with ▁ starts a word;
    ``</s>`` is left out)."""
    words = word_index(tuple(source_pieces))
    return np.array(
        [i for i, w in enumerate(words) if w >= 0 and (i == 0 or words[i - 1] != w)],
        dtype=np.int64,
    )


def non_word_positions(source_pieces) -> np.ndarray:
    """(S,) bool: the pieces that are no word of the text (a leading ``<s>`` of BART-like
    tokenizers or language code of multilingual ones, ``</s>``: engine/alignment.py
    ``word_index``). Transformers often park attention there, so the over-translation
    check leaves them out."""
    return np.array([w < 0 for w in word_index(tuple(source_pieces))], dtype=bool)


def word_coverage(coverage: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(S,) coverage per piece -> (W,) per word, the words starting at ``starts``."""
    return np.add.reduceat(coverage, starts) if starts.size else coverage[:0]
