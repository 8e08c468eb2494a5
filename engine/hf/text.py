"""``HfText``: a folder's own tokenizer on both sides of an opened model.

The source side stays in the model's ids (the encoder reads them as they are); the
target side speaks AttnScope's ids (``HfVocabMap``), because that is what the decode
loop produces: ``detokenize`` and ``target_piece`` map them back first. Input text is
bounded like every other model's: control characters dropped and at most
``MAX_TEXT_CHARS`` characters (engine/tokenizers.py ``clean_text``), and at most
``max_source_tokens`` tokens (eos included) or ``InputTextError`` says so.

Pieces are labelled in the app's convention (engine/pieces.py): the tokenizer's own
(``word_convention`` of its vocabulary: ``▁``, byte-level ``Ġ`` or WordPiece ``##``) is
converted by ``readable_piece``, its special tokens stay as they are and eos reads
``</s>`` as every model's does. ``SourceSide`` and ``TargetSide`` give the two sides what
engine/batch.py, the reference check and the explain code read of engine/tokenizers.py's
TextTokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.errors import InputTextError
from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS
from attnscope.engine.pieces import EOS_PIECE, readable_piece, word_convention
from attnscope.engine.tokenizers import clean_text


class HfText:
    """Text <-> ids with the folder's tokenizer (see the module docstring).

    max_source_tokens: tokens an input may make, eos included
    """

    def __init__(
        self, tokenizer: Any, vocab: HfVocabMap, *, max_source_tokens: int = MAX_SOURCE_TOKENS
    ) -> None:
        self.tokenizer = tokenizer
        self.vocab = vocab
        self.max_source_tokens = max_source_tokens
        self.convention = word_convention(tokenizer.get_vocab())
        self._specials = set(tokenizer.all_special_tokens)
        # the model's eos (HfVocabMap's EOS_ID): a BERT-style tokenizer names none itself
        self._eos = tokenizer.convert_ids_to_tokens(vocab.model_ids([EOS_ID])[0])
        # a multilingual folder's language codes (engine/hf/multilingual.py): no text, but
        # M2M100's tokenizer does not mark them special, so detokenize drops them itself
        self.language_ids: frozenset[int] = frozenset()

    def encode(self, text: str) -> list[int]:
        """One input -> the model's source ids, with the tokenizer's own eos."""
        ids = self.unchecked_ids(text)
        if not ids:
            raise InputTextError("the text is empty; type a sentence to translate")
        if len(ids) > self.max_source_tokens:
            raise InputTextError(
                f"text makes {len(ids):,} tokens; this model reads at most "
                f"{self.max_source_tokens:,} at once"
            )
        return ids

    def unchecked_ids(self, text: str) -> list[int]:
        """The model's source ids of ``text`` (eos included; none for empty text), however
        many: what sorting a file's lines by length needs before any is refused."""
        cleaned = clean_text(text).strip()
        return list(self.tokenizer(cleaned).input_ids) if cleaned else []

    def encode_batch(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Inputs -> (N, S) long source ids padded with the tokenizer's pad, (N, S) 0/1 mask."""
        rows = [self.encode(text) for text in texts]
        width = max(len(row) for row in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return ids, mask

    def source_pieces(self, text: str) -> list[str]:
        """The labels of one input's encoder positions (one per position, eos ``</s>``)."""
        return self.readable(self.tokenizer.convert_ids_to_tokens(self.encode(text)))

    def target_piece(self, token: int) -> str:
        """The label of one AttnScope target id."""
        return self.target_pieces([token])[0]

    def target_pieces(self, tokens: Sequence[int]) -> list[str]:
        """The labels of AttnScope target ids (an id the tokenizer does not know: its unk)."""
        raw = self.tokenizer.convert_ids_to_tokens(self.vocab.model_ids(tokens))
        return self.readable([self.tokenizer.unk_token if p is None else p for p in raw])

    def target_ids(self, text: str) -> list[int]:
        """An expected output -> AttnScope target ids, without eos (the target side of the
        tokenizer: Marian's has its own vocabulary file)."""
        cleaned = clean_text(text).strip()
        ids = list(self.tokenizer(text_target=cleaned).input_ids) if cleaned else []
        while ids and ids[-1] in self.language_ids:  # mBART-cc25's "X </s> [code]": the
            ids.pop()  # decoder starts from the code, so it is no output token
        eos = self.tokenizer.eos_token_id
        return self.vocab.our_ids(ids[:-1] if ids and ids[-1] == eos else ids)

    def readable(self, pieces: Sequence[str]) -> list[str]:
        """Token strings in the app's convention (see the module docstring)."""
        return [
            EOS_PIECE
            if piece == self._eos
            else piece
            if piece in self._specials
            else readable_piece(piece, self.convention)
            for piece in pieces
        ]

    def detokenize(self, tokens: Sequence[int]) -> str:
        """AttnScope target ids (eos and anything after it dropped) -> text."""
        tokens = list(tokens)
        if EOS_ID in tokens:
            tokens = tokens[: tokens.index(EOS_ID)]
        ids = [i for i in self.vocab.model_ids(tokens) if i not in self.language_ids]
        return self.tokenizer.decode(ids, skip_special_tokens=True)


class SourceSide:
    """The source side of an ``HfText`` where code reads a TextTokenizer (engine/batch.py,
    the reference check): the model's own ids."""

    def __init__(self, text: HfText) -> None:
        self.text = text

    @property
    def vocab_size(self) -> int:
        return len(self.text.tokenizer)

    def encode(self, text: str) -> list[int]:
        """Source ids with the tokenizer's eos, unbounded (batch.py sorts lines by it)."""
        return self.text.unchecked_ids(text)

    def pieces(self, text: str) -> list[str]:
        """The labels of the input's positions but the last eos, as a TextTokenizer's pieces
        leave eos out (a leading ``<s>`` stays: it is a position of the encoder)."""
        pieces = self.text.source_pieces(text)
        return pieces[:-1] if pieces and pieces[-1] == EOS_PIECE else pieces


class TargetSide:
    """The target side of an ``HfText`` where code reads a TextTokenizer: AttnScope's ids."""

    def __init__(self, text: HfText) -> None:
        self.text = text

    @property
    def vocab_size(self) -> int:
        return self.text.vocab.size

    def pieces(self, text: str) -> list[str]:
        """The labels of an expected output's tokens (no eos)."""
        return self.text.target_pieces(self.text.target_ids(text))

    def decode(self, ids: Sequence[int]) -> str:
        return self.text.detokenize(ids)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """Every AttnScope id's label, by id."""
        return tuple(self.text.target_pieces(range(self.vocab_size)))

    def piece_to_id(self, piece: str) -> int | None:
        """The AttnScope id whose label is ``piece``, or None."""
        return self.labels.index(piece) if piece in self.labels else None
