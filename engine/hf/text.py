"""``HfText``: a folder's own tokenizer on both sides of an opened model.

The source side stays in the model's ids (the encoder reads them as they are); the
target side speaks AttnScope's ids (``HfVocabMap``), because that is what the decode
loop produces: ``detokenize`` and ``target_piece`` map them back first. Input text is
bounded like every other model's: control characters dropped and at most
``MAX_TEXT_CHARS`` characters (engine/tokenizers.py ``clean_text``), and at most
``max_source_tokens`` tokens (eos included) or ``InputTextError`` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from attnscope.engine.decoding.config import EOS_ID
from attnscope.engine.errors import InputTextError
from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS
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

    def encode(self, text: str) -> list[int]:
        """One input -> the model's source ids, with the tokenizer's own eos."""
        cleaned = clean_text(text).strip()
        if not cleaned:
            raise InputTextError("the text is empty; type a sentence to translate")
        ids = self.tokenizer(cleaned).input_ids
        if len(ids) > self.max_source_tokens:
            raise InputTextError(
                f"text makes {len(ids):,} tokens; this model reads at most "
                f"{self.max_source_tokens:,} at once"
            )
        return list(ids)

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
        """The token strings of one input, as the encoder sees them (one per position)."""
        return self.tokenizer.convert_ids_to_tokens(self.encode(text))

    def target_piece(self, token: int) -> str:
        """The token string of one AttnScope target id."""
        return self.tokenizer.convert_ids_to_tokens(self.vocab.model_ids([token])[0])

    def detokenize(self, tokens: Sequence[int]) -> str:
        """AttnScope target ids (eos and anything after it dropped) -> text."""
        tokens = list(tokens)
        if EOS_ID in tokens:
            tokens = tokens[: tokens.index(EOS_ID)]
        return self.tokenizer.decode(self.vocab.model_ids(tokens), skip_special_tokens=True)
