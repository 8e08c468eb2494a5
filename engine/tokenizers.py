"""Subword tokenizers: a thin, validated wrapper around sentencepiece.

Every tokenizer AttnScope uses has the same special ids (see
docs/CONTRACTS.md): pad = 0, unk = 1, bos = 2, eos = 3. A tokenizer travels
inside a checkpoint as its serialized sentencepiece model, so it is loaded
from and saved to ``bytes`` rather than files, and trained in memory.

Unicode normalisation (NFKC) is sentencepiece's job; this wrapper only strips
control characters (other than tab and newline) and refuses absurdly long
text before encoding, so a pasted binary blob cannot stall the GUI.
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sentencepiece as spm

from attnscope.engine.errors import InputTextError, TokenizerError

logger = logging.getLogger(__name__)

MAX_TEXT_CHARS = 10_000
# A sentencepiece model's normalizer may rewrite one character into a long string: a
# hostile one turned a 5,000-character line into millions of pieces (2.7 GB). NFKC's
# longest rewrite is 33 bytes; a model whose rules rewrite into more is refused at load,
# and a line is refused when its normalized form would exceed MAX_NORMALIZED_BYTES.
MAX_REWRITE_BYTES = 256
MAX_NORMALIZED_BYTES = 200_000
MAX_PIECES_PER_LINE = 4 * MAX_TEXT_CHARS  # byte fallback spells a character in up to 4
_MEASURE_CHARS = 512  # characters normalized at a time when measuring a line
MODEL_TYPES = ("bpe", "unigram")
_KEPT_CONTROLS = frozenset("\t\n")


@dataclass(frozen=True)
class SpecialTokens:
    """Ids of the special tokens; identical for every tokenizer and model."""

    pad: int = 0
    unk: int = 1
    bos: int = 2
    eos: int = 3

    def to_dict(self) -> dict[str, int]:
        return {"pad": self.pad, "unk": self.unk, "bos": self.bos, "eos": self.eos}

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> SpecialTokens:
        """Rebuild from ``to_dict()``; unknown keys or non-int values raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError(f"special tokens must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"pad", "unk", "bos", "eos"})
        if unknown:
            raise ValueError(f"unknown special token names: {', '.join(unknown)}")
        bad = {k: v for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool)}
        if bad:
            raise ValueError(f"special token ids must be integers, got {bad}")
        return cls(**data)


SPECIALS = SpecialTokens()


def clean_text(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Drop control characters except tab/newline; refuse text over ``max_chars``.

    Raises InputTextError for non-str input or text that is too long.
    """
    if not isinstance(text, str):
        raise InputTextError(f"text must be a str, got {type(text).__name__}")
    if len(text) > max_chars:
        raise InputTextError(
            f"text has {len(text):,} characters; at most {max_chars:,} can be encoded at once"
        )
    return "".join(
        ch for ch in text if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cs")
    )


class TextTokenizer:
    """A sentencepiece model with AttnScope's special ids.

    Build one with ``from_bytes`` (e.g. from a checkpoint) or ``train``.
    """

    def __init__(
        self, processor: spm.SentencePieceProcessor, *, max_chars: int = MAX_TEXT_CHARS
    ) -> None:
        _check_special_ids(processor)
        self._rewrite = longest_rewrite(processor.serialized_model_proto())
        if self._rewrite > MAX_REWRITE_BYTES:
            raise TokenizerError(
                f"its normalizer rewrites one character into up to {self._rewrite:,} bytes; "
                f"at most {MAX_REWRITE_BYTES} are allowed (a hostile or broken model)"
            )
        self._sp = processor
        self.max_chars = max_chars
        self.specials = SPECIALS
        self._skipped_on_decode = frozenset({SPECIALS.pad, SPECIALS.bos, SPECIALS.eos})

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes, *, max_chars: int = MAX_TEXT_CHARS) -> TextTokenizer:
        """Load a serialized sentencepiece model; anything else raises TokenizerError."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TokenizerError(f"tokenizer model must be bytes, got {type(data).__name__}")
        if len(data) == 0:
            raise TokenizerError("tokenizer model is empty (0 bytes)")
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(bytes(data))
        except (RuntimeError, OSError, ValueError) as exc:
            raise TokenizerError(
                f"{len(data)} bytes are not a sentencepiece model: {_first_line(exc)}"
            ) from exc
        return cls(processor, max_chars=max_chars)

    @classmethod
    def train(
        cls,
        lines: Iterable[str],
        *,
        vocab_size: int,
        model_type: str = "bpe",
        character_coverage: float = 1.0,
        max_sentences: int = 1_000_000,
        num_threads: int | None = None,
    ) -> TextTokenizer:
        """Train in memory on ``lines`` (the first ``max_sentences`` non-empty ones).

        ``vocab_size`` is an upper bound (hard_vocab_limit off), so a tiny
        corpus still yields a (smaller) working vocabulary.
        """
        if model_type not in MODEL_TYPES:
            raise ValueError(f"unknown model_type {model_type!r}; valid: {', '.join(MODEL_TYPES)}")
        if vocab_size < 5:
            raise ValueError(f"vocab_size must be >= 5 (4 specials + 1 piece), got {vocab_size}")
        cleaned = (clean_text(line, max_chars=1 << 30).strip() for line in lines)
        sentences = list(itertools.islice((s for s in cleaned if s), max_sentences))
        if not sentences:
            raise TokenizerError("cannot train a tokenizer on an empty corpus (no non-empty lines)")
        writer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=writer,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=character_coverage,
                pad_id=SPECIALS.pad,
                unk_id=SPECIALS.unk,
                bos_id=SPECIALS.bos,
                eos_id=SPECIALS.eos,
                hard_vocab_limit=False,
                shuffle_input_sentence=False,
                num_threads=num_threads or max(1, os.cpu_count() or 1),
                minloglevel=2,
            )
        except (RuntimeError, OSError) as exc:
            raise TokenizerError(
                f"sentencepiece training failed ({model_type}, vocab_size={vocab_size}, "
                f"{len(sentences)} sentences): {_first_line(exc)}"
            ) from exc
        tokenizer = cls.from_bytes(writer.getvalue())
        logger.info("trained a %s tokenizer with %d pieces", model_type, tokenizer.vocab_size)
        return tokenizer

    def to_bytes(self) -> bytes:
        """The serialized sentencepiece model (what a checkpoint stores)."""
        return self._sp.serialized_model_proto()

    # -- pickling (DataLoader workers, multiprocessing) ------------------------------------------
    def __getstate__(self) -> dict:
        return {"model": self.to_bytes(), "max_chars": self.max_chars}

    def __setstate__(self, state: dict) -> None:
        restored = TextTokenizer.from_bytes(state["model"], max_chars=state["max_chars"])
        self.__dict__.update(restored.__dict__)

    # -- use ------------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Text -> subword ids, without bos/eos. Empty text gives []."""
        return self._bounded(self._sp.encode(self._cleaned(text)))

    def pieces(self, text: str) -> list[str]:
        """Text -> subword pieces as strings (e.g. ``["▁the", "▁cat"]``)."""
        return self._bounded(self._sp.encode(self._cleaned(text), out_type=str))

    def _cleaned(self, text: str) -> str:
        """``clean_text``, then refused if the normalizer would blow it up (InputTextError)."""
        cleaned = clean_text(text, max_chars=self.max_chars)
        worst = len(cleaned.encode("utf-8", "surrogatepass")) * max(self._rewrite, 1)
        if worst <= MAX_NORMALIZED_BYTES:
            return cleaned
        total = 0
        for start in range(0, len(cleaned), _MEASURE_CHARS):  # bounded memory per chunk
            chunk = self._sp.normalize(cleaned[start : start + _MEASURE_CHARS])
            total += len(chunk.encode("utf-8", "surrogatepass"))
            if total > MAX_NORMALIZED_BYTES:
                raise InputTextError(
                    f"text of {len(cleaned):,} characters grows past {MAX_NORMALIZED_BYTES:,} "
                    "bytes under this tokenizer's normalization; shorten the line"
                )
        return cleaned

    @staticmethod
    def _bounded(pieces: list) -> list:
        if len(pieces) > MAX_PIECES_PER_LINE:
            raise InputTextError(
                f"text makes {len(pieces):,} pieces; at most {MAX_PIECES_PER_LINE:,} per line"
            )
        return list(pieces)

    def decode(self, ids: Sequence[int]) -> str:
        """Ids -> text; pad/bos/eos are skipped (decoding does not stop at eos)."""
        kept = [int(i) for i in ids if int(i) not in self._skipped_on_decode]
        self._check_ids(kept)
        return self._sp.decode(kept)

    def id_to_piece(self, index: int) -> str:
        """The piece string of one id; out-of-range ids raise TokenizerError."""
        self._check_ids([int(index)])
        return self._sp.id_to_piece(int(index))

    def piece_to_id(self, piece: str) -> int | None:
        """The id of ``piece``, or None when it is not in the vocabulary."""
        index = self._sp.piece_to_id(piece)
        if index == SPECIALS.unk and piece != self._sp.id_to_piece(SPECIALS.unk):
            return None
        return index

    def _check_ids(self, ids: Iterable[int]) -> None:
        size = self.vocab_size
        bad = [i for i in ids if not 0 <= i < size]
        if bad:
            raise TokenizerError(f"token ids {bad[:5]} are outside the vocabulary (size {size})")

    def __repr__(self) -> str:
        return f"TextTokenizer(vocab_size={self.vocab_size})"


def _check_special_ids(processor: spm.SentencePieceProcessor) -> None:
    found = {
        "pad": processor.pad_id(),
        "unk": processor.unk_id(),
        "bos": processor.bos_id(),
        "eos": processor.eos_id(),
    }
    if found != SPECIALS.to_dict():
        raise TokenizerError(
            f"tokenizer special ids are {found}; AttnScope needs {SPECIALS.to_dict()} "
            "(train with pad_id=0 unk_id=1 bos_id=2 eos_id=3)"
        )


@functools.lru_cache(maxsize=8)  # a joint vocabulary loads the same model twice
def longest_rewrite(model: bytes) -> int:
    """Bytes of the longest string the model's normalizer or denormalizer writes for a match.

    Read from the serialized ModelProto without protobuf: fields 3 (normalizer_spec)
    and 5 (denormalizer_spec) hold field 2, the precompiled charsmap: a uint32 trie
    size, the trie, then the NUL-separated replacement strings.
    """
    longest = 0
    for number, value in _length_delimited(model):
        if number not in (3, 5):
            continue
        for inner, charsmap in _length_delimited(value):
            if inner == 2 and len(charsmap) >= 4:
                trie = int.from_bytes(charsmap[:4], "little")
                strings = bytes(charsmap[4 + trie :]).split(b"\0")
                longest = max(longest, *map(len, strings))
    return longest


def _length_delimited(blob: bytes | memoryview):
    """(field number, bytes) of each length-delimited field of a protobuf message."""
    view, pos = memoryview(blob), 0
    raw = bytes(view)  # bytes index faster than a memoryview
    end = len(raw)
    while pos < end:
        while pos + 1 < end and raw[pos] == 0x0A and raw[pos + 1] < 0x80:
            pos += 2 + raw[pos + 1]  # field 1 with a one-byte length (a piece): skipped fast
        if pos >= end:
            break
        key, pos = _varint(view, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(view, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            size, pos = _varint(view, pos)
            yield key >> 3, view[pos : pos + size]
            pos += size
        else:
            raise TokenizerError(f"tokenizer model has an unknown protobuf wire type {wire}")


def _varint(view: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(view):
        byte = view[pos]
        result, shift, pos = result | (byte & 0x7F) << shift, shift + 7, pos + 1
        if byte < 0x80:
            return result, pos
    raise TokenizerError("tokenizer model ends inside a number")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
