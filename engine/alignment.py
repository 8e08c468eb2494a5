"""Word alignments read off the attention: which source word each target word looked at most.

Each target subword is linked to the source subword it attends to most (the
heads averaged; the source's end-of-sentence position, where attention
models park spare weight, is left out), and subword links become links
between the words they belong to. Words are counted the way sentencepiece
marks them: a piece starting with ``▁`` starts a new word, so word ``i`` is the
``i``-th whitespace-separated word of the text. Every model's pieces carry that
mark (engine/pieces.py converts byte-level ``Ġ`` and WordPiece ``##`` pieces);
the first piece of a text starts a word whatever it carries (byte-level BPE
marks no space before the first word), and ``</s>`` or a leading ``<s>`` or
``[CLS]`` is no word. The result is the usual
Pharaoh format (``"0-0 1-2 2-1"``: source word - target word, 0-based), the
format alignment error rate tools and fast_align read.
"""

from __future__ import annotations

import numpy as np

from attnscope.engine.pieces import LANGUAGE_CODE, NON_WORD_PIECES, WORD_START


def word_index(pieces: tuple[str, ...] | list[str]) -> list[int]:
    """Word number of each piece (``</s>``, ``<s>``, ``[CLS]`` and a language code such as
    ``eng_Latn`` get -1)."""
    words, current = [], -1
    for piece in pieces:
        if piece in NON_WORD_PIECES or LANGUAGE_CODE.fullmatch(piece):
            words.append(-1)
            continue
        if piece.startswith(WORD_START) or current < 0:
            current += 1
        words.append(current)
    return words


def hard_alignment(
    attention: np.ndarray, source_pieces: tuple[str, ...], target_pieces: tuple[str, ...]
) -> list[tuple[int, int]]:
    """Sorted (source word, target word) links from attention (T, heads, S) or (T, S).

    T and S must match the target and source pieces (end-of-sentence included
    where the pieces have it); a target ``</s>`` gets no link.
    """
    weights = np.asarray(attention, dtype=np.float32)
    if weights.ndim == 3:
        weights = weights.mean(axis=1)  # (T, S)
    if weights.shape != (len(target_pieces), len(source_pieces)):
        raise ValueError(
            f"attention of shape {weights.shape} does not fit {len(target_pieces)} target "
            f"and {len(source_pieces)} source pieces"
        )
    source_words, target_words = word_index(source_pieces), word_index(target_pieces)
    real = [s for s, word in enumerate(source_words) if word >= 0]
    if not real:
        return []
    links = set()
    for t, target_word in enumerate(target_words):
        if target_word < 0:
            continue
        best = real[int(np.argmax(weights[t, real]))]
        links.add((source_words[best], target_word))
    return sorted(links)


def pharaoh(links: list[tuple[int, int]]) -> str:
    """``"0-0 1-2"``: one ``source-target`` pair per link."""
    return " ".join(f"{s}-{t}" for s, t in links)
