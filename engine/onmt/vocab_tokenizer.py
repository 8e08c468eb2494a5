"""Sentencepiece models for an OpenNMT-py vocabulary, so one imported file carries all.

AttnScope's tokenizers are sentencepiece models whose ids are the model's ids. An
OpenNMT-py model has a token list instead, in its own order:

- **word-level vocabulary** (no ``--src-spm/--tgt-spm``): a sentencepiece *word* model
  is written whose pieces are the tokens (``▁`` + token) in AttnScope's id order. It
  splits a line at whitespace as OpenNMT-py does, reads a token it lacks as ``<unk>``
  and prints ``<unk>`` for it, as onmt_translate does.
- **sentencepiece pieces**: the given ``.model`` is rewritten with its pieces in the
  vocabulary's order. Pieces the vocabulary lacks are dropped (OpenNMT-py would map
  them to ``<unk>``; here the line is segmented without them); vocabulary tokens the
  model lacks keep a score below every other piece.

The protobuf is written by hand (field numbers of sentencepiece_model.proto) so no
protobuf package is needed.
"""

from __future__ import annotations

import struct

from attnscope.engine.errors import TokenizerError
from attnscope.engine.tokenizers import TextTokenizer

WORD_BOUNDARY = "\u2581"  # ▁, sentencepiece's whitespace mark
# sentencepiece_model.proto field numbers
_PIECES, _TRAINER, _NORMALIZER = 1, 2, 3
_PIECE_TEXT, _PIECE_SCORE, _PIECE_TYPE = 1, 2, 3
NORMAL, UNKNOWN, CONTROL = 1, 2, 3
_MODEL_TYPE, _VOCAB_SIZE = 3, 4
_UNK_ID, _BOS_ID, _EOS_ID, _PAD_ID, _UNK_SURFACE = 40, 41, 42, 43, 44
_UNK_PIECE, _BOS_PIECE, _EOS_PIECE, _PAD_PIECE = 45, 46, 47, 48
_WORD_MODEL = 3
_NORM_NAME, _DUMMY_PREFIX, _REMOVE_SPACES, _ESCAPE_SPACES = 1, 3, 4, 5
SPECIAL_PIECES = ("<blank>", "<unk>", "<s>", "</s>")  # AttnScope ids 0..3
UNSEEN_SCORE = -1e9  # a vocabulary token the given sentencepiece model lacks


def word_tokenizer(tokens: list[str]) -> TextTokenizer:
    """A whitespace tokenizer over ``tokens`` (AttnScope order: pad, unk, bos, eos, ...)."""
    bad = [t for t in tokens[4:] if WORD_BOUNDARY in t or t != t.strip() or " " in t]
    if bad:
        raise TokenizerError(
            f"the vocabulary holds tokens that are not whitespace-free words ({bad[0]!r}...): "
            "it was made with a subword model; give that model with --src-spm/--tgt-spm"
        )
    pieces = [(p, 0.0, CONTROL) for p in SPECIAL_PIECES]
    pieces[1] = ("<unk>", 0.0, UNKNOWN)
    pieces += [(WORD_BOUNDARY + t, -float(i), NORMAL) for i, t in enumerate(tokens[4:])]
    trainer = _varint_field(_MODEL_TYPE, _WORD_MODEL) + _varint_field(_VOCAB_SIZE, len(pieces))
    trainer += _special_fields() + _text_field(_UNK_SURFACE, " <unk>")
    normalizer = (
        _text_field(_NORM_NAME, "identity")
        + _varint_field(_DUMMY_PREFIX, 1)
        + _varint_field(_REMOVE_SPACES, 1)
        + _varint_field(_ESCAPE_SPACES, 1)
    )
    return TextTokenizer.from_bytes(_model(pieces, trainer, normalizer))


def reordered_tokenizer(model: bytes, tokens: list[str]) -> TextTokenizer:
    """The sentencepiece ``model`` with its pieces in the order of ``tokens`` (AttnScope
    order); its trainer and normalizer settings kept, its special ids set to AttnScope's."""
    found = _pieces(model)
    fields = [field for field in _fields(model) if field[0] != _PIECES]
    trainer = next((value for number, _, value in fields if number == _TRAINER), b"")
    normalizer = next((value for number, _, value in fields if number == _NORMALIZER), b"")
    pieces = [(p, 0.0, CONTROL) for p in SPECIAL_PIECES]
    pieces[1] = ("<unk>", 0.0, UNKNOWN)
    for token in tokens[4:]:
        score, kind = found.get(token, (UNSEEN_SCORE, NORMAL))
        pieces.append((token, score, kind if kind not in (UNKNOWN, CONTROL) else NORMAL))
    replaced = {_UNK_ID, _BOS_ID, _EOS_ID, _PAD_ID, _VOCAB_SIZE}
    replaced |= {_UNK_PIECE, _BOS_PIECE, _EOS_PIECE, _PAD_PIECE}
    trainer = _without(trainer, replaced) + _varint_field(_VOCAB_SIZE, len(pieces))
    extra = b"".join(_encoded(*f) for f in fields if f[0] not in (_TRAINER, _NORMALIZER))
    model = _model(pieces, trainer + _special_fields(), normalizer) + extra
    return TextTokenizer.from_bytes(model)


def _model(pieces: list[tuple[str, float, int]], trainer: bytes, normalizer: bytes) -> bytes:
    body = b"".join(
        _bytes_field(
            _PIECES,
            _text_field(_PIECE_TEXT, text)
            + _key(_PIECE_SCORE, 5)
            + struct.pack("<f", score)
            + _varint_field(_PIECE_TYPE, kind),
        )
        for text, score, kind in pieces
    )
    return body + _bytes_field(_TRAINER, trainer) + _bytes_field(_NORMALIZER, normalizer)


def _special_fields() -> bytes:
    ids = ((_PAD_ID, 0), (_UNK_ID, 1), (_BOS_ID, 2), (_EOS_ID, 3))
    return b"".join(_varint_field(number, value) for number, value in ids) + _piece_names()


def _piece_names() -> bytes:
    names = zip((_PAD_PIECE, _UNK_PIECE, _BOS_PIECE, _EOS_PIECE), SPECIAL_PIECES, strict=True)
    return b"".join(_text_field(number, text) for number, text in names)


def _pieces(model: bytes) -> dict[str, tuple[float, int]]:
    """{piece: (score, type)} of a serialized sentencepiece model."""
    found = {}
    for number, _, value in _fields(model):
        if number != _PIECES:
            continue
        piece, score, kind = "", 0.0, NORMAL
        for field, _, item in _fields(value):
            if field == _PIECE_TEXT:
                piece = bytes(item).decode("utf-8", "replace")
            elif field == _PIECE_SCORE:
                score = struct.unpack("<f", bytes(item))[0]
            elif field == _PIECE_TYPE:
                kind = item
        found[piece] = (score, kind)
    return found


def _fields(blob: bytes | memoryview) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of one protobuf message level: an
    int for a varint, the raw bytes of a length-delimited or fixed-width field."""
    raw, pos, found = bytes(blob), 0, []
    while pos < len(raw):
        key, pos = _read_varint(raw, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(raw, pos)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = raw[pos : pos + width], pos + width
        elif wire == 2:
            size, pos = _read_varint(raw, pos)
            value, pos = raw[pos : pos + size], pos + size
        else:
            raise TokenizerError(
                f"the sentencepiece model has an unknown protobuf wire type {wire}"
            )
        if pos > len(raw):
            raise TokenizerError("the sentencepiece model ends inside a field")
        found.append((number, wire, value))
    return found


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(raw) and shift < 70:
        byte = raw[pos]
        result, shift, pos = result | (byte & 0x7F) << shift, shift + 7, pos + 1
        if byte < 0x80:
            return result, pos
    raise TokenizerError("the sentencepiece model ends inside a number")


def _encoded(number: int, wire: int, value: int | bytes) -> bytes:
    """One field encoded again as it was read."""
    if wire == 0:
        return _varint_field(number, value)
    if wire == 2:
        return _bytes_field(number, value)
    return _key(number, wire) + value


def _without(message: bytes, numbers: set[int]) -> bytes:
    """``message`` re-encoded without the fields ``numbers``."""
    return b"".join(_encoded(*field) for field in _fields(message) if field[0] not in numbers)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int32 fields are 10-byte two's complement varints
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _bytes_field(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _varint(len(data)) + data


def _text_field(number: int, text: str) -> bytes:
    return _bytes_field(number, text.encode("utf-8"))
