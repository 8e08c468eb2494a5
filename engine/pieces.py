"""How pieces read: the marks every view and command shares, and the conversion that gives
every tokenizer's pieces those marks (no sentencepiece import, so a GUI module can use them
without loading a tokenizer library at start-up).

The app shows every model's pieces in one convention, SentencePiece's: a piece that starts
a word starts with ``▁``, a piece without it continues the word before. The chips, the
word alignments, the per-word comparisons and the diffs all group pieces into words by
that mark. A tokenizer that marks words another way has its pieces converted once, where
the model labels its tokens (``readable_piece``), so its words group the same way:

- ``SENTENCEPIECE`` (Marian, mBART, T5, NLLB): ``▁`` starts a word; shown as they are;
- ``BYTE_LEVEL`` (byte-level BPE: BART, GPT-2): ``Ġ`` (a space byte) starts a word and
  every byte is written as a printable character; shown as the text they stand for, the
  space as ``▁`` (``Ġcaf`` + ``Ã©`` -> ``▁caf`` + ``é``; a byte that does not complete a
  character alone reads ``<0xC3>``, as SentencePiece's byte fallback writes it);
- ``WORDPIECE`` (BERT-style, e.g. BLIP's text side): ``##`` continues a word and any
  other piece starts one; shown with ``▁`` on word starts and without ``##``. A
  word-level vocabulary (one piece per word, no marks) reads the same way.
"""

from __future__ import annotations

import re

WORD_START = "▁"  # sentencepiece marks the first piece of each word with it
EOS_PIECE = "</s>"  # how the views and the CLI show the eos token
# pieces that are no word of the text: eos, and what BART-like (<s>) and BERT-like ([CLS])
# tokenizers put first
NON_WORD_PIECES = frozenset({EOS_PIECE, "<s>", "[CLS]"})
# a multilingual model's language code (mBART en_XX, NLLB eng_Latn, M2M100 __en__): its
# tokenizer marks the source with one and its decoder starts with one; no word either
LANGUAGE_CODE = re.compile(r"__[a-z]{2,3}__|[a-z]{2,3}_[A-Z][A-Za-z]{1,3}")

SENTENCEPIECE = "sentencepiece"
BYTE_LEVEL = "byte-level BPE"
WORDPIECE = "wordpiece"
WORD_CONVENTIONS = (SENTENCEPIECE, BYTE_LEVEL, WORDPIECE)
# the mark each convention's vocabulary shows (``word_convention`` counts them)
CONVENTION_MARKS = {SENTENCEPIECE: WORD_START, BYTE_LEVEL: "Ġ", WORDPIECE: "##"}
CONTINUATION = "##"


def _byte_level_table() -> dict[str, int]:
    """Byte-level BPE's printable character -> the byte it stands for (GPT-2's
    ``bytes_to_unicode``: printable Latin-1 bytes are themselves, the others 256 + n)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in table.values()]
    table |= {chr(256 + n): b for n, b in enumerate(others)}
    return table


_BYTE_OF_CHAR = _byte_level_table()
_LONE_BYTE = re.compile("[\udc80-\udcff]")  # surrogateescape's stand-in for an undecodable byte


def readable_piece(piece: str, convention: str) -> str:
    """``piece`` of a tokenizer of ``convention`` in the app's convention (see the module
    docstring); a special token (``<s>``, ``[CLS]``) is the caller's to keep as it is."""
    if convention == BYTE_LEVEL:
        if not piece or any(char not in _BYTE_OF_CHAR for char in piece):
            return piece  # not byte-level text (an added token)
        data = bytes(_BYTE_OF_CHAR[char] for char in piece)
        text = data.decode("utf-8", "surrogateescape")
        text = _LONE_BYTE.sub(lambda m: f"<0x{ord(m.group()) - 0xDC00:02X}>", text)
        return text.replace(" ", WORD_START)
    if convention == WORDPIECE:
        if piece.startswith(CONTINUATION) and len(piece) > len(CONTINUATION):
            return piece[len(CONTINUATION) :]
        return WORD_START + piece
    if convention == SENTENCEPIECE:
        return piece
    raise ValueError(f"unknown word convention {convention!r}; valid: {WORD_CONVENTIONS}")


def word_convention(vocabulary) -> str:
    """The convention a tokenizer's vocabulary (its piece strings) follows: the one whose
    mark the most pieces carry; a vocabulary with none of the marks (one piece per word)
    reads as WORDPIECE (every piece starts a word)."""
    counts = dict.fromkeys(WORD_CONVENTIONS, 0)
    for piece in vocabulary:
        for convention, mark in CONVENTION_MARKS.items():
            counts[convention] += piece.startswith(mark)
    best = max(WORD_CONVENTIONS, key=counts.__getitem__)
    return best if counts[best] else WORDPIECE
