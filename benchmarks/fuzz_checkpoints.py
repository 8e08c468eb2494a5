"""Checkpoint inputs for the fuzzer: random files and mutated tiny checkpoints.

A ``CheckpointCase`` names a seed file (a tiny real checkpoint written by
``fuzz_inputs.FuzzModels``) and the mutations to apply in order: bytes
flipped, set, inserted, deleted, spliced or truncated (mostly inside the
header, where the loader's decisions are), one JSON value of the header or
its metadata replaced or dropped, a metadata value replaced by hostile JSON text
(deep nesting, huge numbers, NaN), a recommended decoding set, the serialized
sentencepiece model corrupted, or the ``.pt`` file's JSON sidecar changed or replaced.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import struct
from dataclasses import dataclass

from hypothesis import strategies as st

TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
RANDOM_SUFFIXES = (".safetensors", ".attnscope", *TORCH_SUFFIXES)
# Integers a mutated config may hold: small ones, mid-sized dimensions (refused by the
# config's bounds or by the parameter count its sizes imply, before any model is built)
# and absurd ones that must fail fast.
ABSURD_INTS = (8_000, 100_000, 10**6, 2**31, 2**62, 2**64, 10**30, -(2**63))
# Whole JSON texts a metadata value or a .pt sidecar may be replaced with: nesting past
# the parser's recursion limit, numbers past Python's int-string limit, NaN and Inf.
HOSTILE_JSON_TEXTS = (
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' + "[" * 900 + "]" * 900 + "}",
    '{"tgt_vocab": ' + "9" * 5000 + "}",
    '{"x": 0.' + "5" * 5000 + "}",
    '{"size": [NaN, Infinity], "mean": [-Infinity, 0, 0]}',
    '{"recommended_decoding": {"beam_size": 100000000}}',
)
DECODE_FIELDS = ("strategy", "beam_size", "max_length", "temperature", "seed", "top_k", "top_p")


@dataclass(frozen=True)
class CheckpointCase:
    """A seed file (or random bytes) and the mutations applied to it, in order."""

    seed: str  # "translation" | "captioning" | "pt" | "random"
    suffix: str
    ops: tuple = ()
    data: bytes = b""  # the file itself when seed == "random"


def _region(blob: bytes, where: str) -> int:
    """Length of the region a mutation may touch: the header, or the whole file."""
    if where == "head" and len(blob) >= 8:
        (length,) = struct.unpack("<Q", blob[:8])
        return max(1, min(len(blob), 8 + length))
    return max(1, len(blob))


def _apply_byte_op(blob: bytes, op: tuple) -> bytes:
    kind, where, pos = op[0], op[1], op[2]
    if not blob:
        return blob
    at = pos % _region(blob, where)
    if kind == "flip":
        return blob[:at] + bytes([blob[at] ^ (1 << op[3])]) + blob[at + 1 :]
    if kind == "set":
        return blob[:at] + bytes([op[3]]) + blob[at + 1 :]
    if kind == "truncate":
        return blob[:at]
    if kind == "insert":
        return blob[:at] + op[3] + blob[at:]
    if kind == "delete":
        return blob[:at] + blob[at + op[3] :]
    if kind == "splice":  # copy a chunk from elsewhere over ``at``
        src = op[3] % len(blob)
        chunk = blob[src : src + op[4]]
        return blob[:at] + chunk + blob[at + len(chunk) :]
    raise ValueError(f"unknown byte mutation {kind!r}")


def split_safetensors(blob: bytes) -> tuple[dict, bytes]:
    """(header JSON, data bytes) of a safetensors file's bytes."""
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + length]), blob[8 + length :]


def join_safetensors(header: dict, data: bytes, *, sort_keys: bool = False) -> bytes:
    """The file bytes for ``header`` (JSON-encoded, length-prefixed) and ``data``."""
    raw = json.dumps(header, sort_keys=sort_keys).encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(raw)) + raw + data


def canonical_safetensors(blob: bytes) -> bytes:
    """The same file with its header's keys sorted (byte-identical from run to run)."""
    header, data = split_safetensors(blob)
    return join_safetensors(header, data, sort_keys=True)


def _json_paths(doc, prefix=()) -> list[tuple]:
    """Every key/index path in ``doc``, parents before children, in a stable order."""
    paths = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        paths.append((*prefix, key))
        paths.extend(_json_paths(value, (*prefix, key)))
    return paths


def _mutate_json(doc, op: tuple):
    """Replace (or drop) the value at one path of ``doc``; returns the new document."""
    paths = _json_paths(doc)
    if not paths:
        return op[2] if op[0] == "json" else doc
    *parents, last = paths[op[1] % len(paths)]
    doc = copy.deepcopy(doc)
    holder = doc
    for key in parents:
        holder = holder[key]
    if op[0] == "json":
        holder[last] = op[2]
    else:
        del holder[last]
    return doc


# metadata values that hold JSON or base64 are unpacked so mutations reach inside them
_JSON_METADATA = ("model_config", "image_preprocess", "special_tokens", "training_info")


def _mutate_header(blob: bytes, op: tuple) -> bytes:
    header, data = split_safetensors(blob)
    meta = header.get("__metadata__", {})
    if op[0] == "spm":  # corrupt the serialized sentencepiece model inside the base64
        key = "src_tokenizer" if op[1] and "src_tokenizer" in meta else "tgt_tokenizer"
        raw = base64.b64decode(meta[key])
        for byte_op in op[2]:
            raw = _apply_byte_op(raw, byte_op)
        meta[key] = base64.b64encode(raw).decode("ascii")
        return join_safetensors(header, data)
    for key in _JSON_METADATA:
        if key in meta:
            meta[key] = json.loads(meta[key])
    header = _mutate_json(header, op)
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if isinstance(meta, dict):
        for key in _JSON_METADATA:
            if key in meta and not isinstance(meta[key], str):
                meta[key] = json.dumps(meta[key])
    return join_safetensors(header, data)


def _replace_metadata(blob: bytes, op: tuple) -> bytes:
    """A metadata value replaced by hostile text, or a recommended decoding set."""
    header, data = split_safetensors(blob)
    meta = header["__metadata__"]
    if op[0] == "meta_text":
        meta[_JSON_METADATA[op[1] % len(_JSON_METADATA)]] = op[2]
    else:
        info = json.loads(meta.get("training_info", "{}"))
        info["recommended_decoding"] = op[1]
        meta["training_info"] = json.dumps(info)
    return join_safetensors(header, data)


def materialize_checkpoint(
    case: CheckpointCase, seeds: dict[str, bytes], sidecar: str
) -> tuple[str, bytes, str]:
    """(suffix, file bytes, JSON sidecar text) for ``case``."""
    if case.seed == "random":
        return case.suffix, case.data, sidecar
    blob = seeds[case.seed]
    for op in case.ops:
        if op[0] == "sidecar":
            sidecar = json.dumps(_mutate_json(json.loads(sidecar), ("json", *op[1:])))
        elif op[0] == "sidecar_text":
            sidecar = op[1]
        elif op[0] in ("meta_text", "recommend"):
            with contextlib.suppress(ValueError, KeyError, TypeError, struct.error):
                blob = _replace_metadata(blob, op)
        elif op[0] in ("json", "drop", "spm"):
            # an earlier byte mutation may have broken the header: then keep the bytes
            broken = (ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error)
            with contextlib.suppress(*broken):
                blob = _mutate_header(blob, op)
        else:
            blob = _apply_byte_op(blob, op)
    return case.suffix, blob, sidecar


_positions = st.integers(0, 2**31)
_where = st.sampled_from(["head", "head", "any"])
_BYTE_OPS = st.one_of(
    st.tuples(st.just("flip"), _where, _positions, st.integers(0, 7)),
    st.tuples(st.just("set"), _where, _positions, st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.just("any"), _positions),
    st.tuples(st.just("insert"), _where, _positions, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), _where, _positions, st.integers(1, 64)),
    st.tuples(st.just("splice"), _where, _positions, _positions, st.integers(1, 64)),
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.sampled_from(ABSURD_INTS),
    st.floats(),
    st.text(max_size=12),
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_hostile_texts = st.sampled_from(HOSTILE_JSON_TEXTS)
_HEADER_OPS = st.one_of(
    st.tuples(st.just("json"), _positions, json_values),
    st.tuples(st.just("drop"), _positions),
    st.tuples(st.just("spm"), st.booleans(), st.lists(_BYTE_OPS, min_size=1, max_size=3)),
    st.tuples(st.just("meta_text"), _positions, _hostile_texts),
    st.tuples(st.just("recommend"), st.dictionaries(st.sampled_from(DECODE_FIELDS), json_values)),
)


def checkpoint_inputs() -> st.SearchStrategy[CheckpointCase]:
    """Random files, and mutated tiny checkpoints (translation mostly: it loads fastest)."""
    safetensors = st.builds(
        CheckpointCase,
        seed=st.sampled_from(["translation"] * 4 + ["captioning"]),
        suffix=st.just(".safetensors"),
        ops=st.lists(st.one_of(_BYTE_OPS, _HEADER_OPS), min_size=1, max_size=4).map(tuple),
    )
    pytorch = st.builds(
        CheckpointCase,
        seed=st.just("pt"),
        suffix=st.sampled_from(TORCH_SUFFIXES),
        ops=st.lists(
            st.one_of(
                _BYTE_OPS,
                st.tuples(st.just("sidecar"), _positions, json_values),
                st.tuples(st.just("sidecar_text"), _hostile_texts),
            ),
            min_size=1,
            max_size=4,
        ).map(tuple),
    )
    random = st.builds(
        CheckpointCase,
        seed=st.just("random"),
        suffix=st.sampled_from(RANDOM_SUFFIXES),
        data=st.binary(max_size=2048),
    )
    return st.one_of(safetensors, safetensors, pytorch, random)
