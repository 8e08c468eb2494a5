"""Field checks of a session file's manifest: types, sizes and values, before anything is built.

engine/session_file.py reads the manifest with these. Each check raises one
SessionFileError naming the file, the field and the value; sizes are bounded
(steps, candidates, heads, source positions, text length) so a hostile manifest
cannot make the reader allocate more than the limits allow.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from attnscope.engine.errors import ImageInputError, SessionFileError
from attnscope.engine.hf.multilingual import LANGUAGE_CODE
from attnscope.engine.session_archive import MAX_MEMBER_BYTES, SessionArchive

MAX_STEPS = 4096  # tokens (and steps taken) of one decode
MAX_CANDIDATES = 1024  # candidates kept per step
MAX_HEADS = 64  # attention heads of one decoder layer
MAX_LAYERS = 64  # decoder layers whose attention a step reports
MAX_SOURCE_POSITIONS = 16_384  # text pieces or picture grid cells
MAX_TEXT_CHARS = 100_000
MAX_INTERVENTIONS = 4096
MAX_BREAKPOINTS = 256
MAX_NAME_CHARS = 200
TENSOR_DTYPES = {
    "log_probs": "<f4",
    "topk_ids": "<i8",
    "topk_probs": "<f4",
    "attention": "<f4",
    "source_mixing": "<f4",  # optional: (S, S) encoder rollout (Transformer encoders)
}
_IN_UNIT_RANGE = ("topk_probs", "attention", "source_mixing")
_TEXT_FIELD = {"translation": "translation", "captioning": "caption"}
_LIST_LIMITS = {"interventions": MAX_INTERVENTIONS, "breakpoints": MAX_BREAKPOINTS}


def require(condition: bool, message: str) -> None:
    """Raise SessionFileError(message) unless ``condition`` holds."""
    if not condition:
        raise SessionFileError(message)


def _is_int(value: Any, low: int = 0, high: int | None = None) -> bool:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        return False
    return high is None or value <= high


def _strings(value: Any, length: int | None = None) -> bool:
    return (
        isinstance(value, list)
        and all(isinstance(v, str) for v in value)
        and (length is None or len(value) == length)
    )


def checked_list(value: Any, key: str, name: str) -> list:
    """``interventions`` / ``breakpoints``: a list of objects, at most the limit long."""
    limit = _LIST_LIMITS[key]
    require(isinstance(value, list), f"{name}: '{key}' is not a list")
    require(len(value) <= limit, f"{name}: {len(value)} {key}, over the limit of {limit}")
    bad = next((i for i, v in enumerate(value) if not isinstance(v, dict)), None)
    require(bad is None, f"{name}: {key} entry {bad if bad is None else bad + 1} is not an object")
    return value


# -- the decode's arrays -----------------------------------------------------------------------
def checked_decode(value: Any, name: str, *, layered: bool = True) -> dict:
    """The manifest's ``decode`` part: token ids, heads, layers, steps taken and the tensor
    list, with every shape consistent (T tokens, K candidates, L layers of H heads, S
    positions) and within limits. ``layered``: the attention is stored (T, L, H, S) with
    ``num_layers`` L (session version 2); version 1 stored (T, heads, S) with no
    ``num_layers``, read as one layer. Returns the part with ``num_layers`` set."""
    require(isinstance(value, dict), f"{name}: 'decode' is not an object")
    value = {**value, "num_layers": value.get("num_layers") if layered else 1}
    ids = value.get("token_ids")
    require(
        isinstance(ids, list) and len(ids) <= MAX_STEPS and all(map(_is_int, ids)),
        f"{name}: decode.token_ids must be at most {MAX_STEPS} token ids",
    )
    steps = len(ids)
    heads, taken, layers = value.get("num_heads"), value.get("steps_taken"), value["num_layers"]
    require(
        _is_int(layers, 1, MAX_LAYERS),
        f"{name}: decode.num_layers {layers!r} is not 1..{MAX_LAYERS}",
    )
    require(
        _is_int(heads, 0, MAX_HEADS * layers) and heads % layers == 0,
        f"{name}: decode.num_heads {heads!r} is not 0..{MAX_HEADS} heads in each of {layers} layers",
    )
    require(
        _is_int(taken, steps, MAX_STEPS),
        f"{name}: decode.steps_taken {taken!r} is not {steps}..{MAX_STEPS}",
    )
    tensors = value.get("tensors")
    require(isinstance(tensors, dict), f"{name}: decode.tensors is not an object")
    wanted = {"log_probs", "topk_ids", "topk_probs"} | ({"attention"} if heads else set())
    if heads and layered and "source_mixing" in tensors:
        wanted.add("source_mixing")
    require(
        set(tensors) == wanted,
        f"{name}: decode.tensors lists {sorted(tensors)}; expected {sorted(wanted)}",
    )
    shapes = {key: _tensor_shape(tensors[key], key, name) for key in sorted(wanted)}
    _check_shapes(shapes, steps, (layers, heads // layers) if layered else (heads,), name)
    return value


def _tensor_shape(entry: Any, key: str, name: str) -> tuple[int, ...]:
    require(isinstance(entry, dict), f"{name}: decode.tensors.{key} is not an object")
    member, dtype, shape = entry.get("member"), entry.get("dtype"), entry.get("shape")
    require(
        member == f"tensors/{key}.bin",
        f"{name}: decode.tensors.{key}.member must be 'tensors/{key}.bin', got {member!r}",
    )
    require(
        dtype == TENSOR_DTYPES[key],
        f"{name}: decode.tensors.{key}.dtype must be {TENSOR_DTYPES[key]!r}, got {dtype!r}",
    )
    require(
        isinstance(shape, list) and 1 <= len(shape) <= 4 and all(map(_is_int, shape)),
        f"{name}: decode.tensors.{key}.shape must be 1 to 4 sizes, got {str(shape)[:80]}",
    )
    return tuple(shape)


def _check_shapes(
    shapes: dict[str, tuple[int, ...]], steps: int, heads: tuple[int, ...], name: str
) -> None:
    """``heads``: (layers, heads per layer), or (heads,) for a version 1 file."""
    require(shapes["log_probs"] == (steps,), f"{name}: log_probs is not ({steps},)")
    topk = shapes["topk_ids"]
    require(
        len(topk) == 2 and topk[0] == steps and topk[1] <= MAX_CANDIDATES,
        f"{name}: topk_ids {topk} is not ({steps}, K ≤ {MAX_CANDIDATES})",
    )
    require(shapes["topk_probs"] == topk, f"{name}: topk_probs is not {topk} like topk_ids")
    if heads[-1]:
        attention, sizes = shapes["attention"], ", ".join(map(str, heads))
        require(
            len(attention) == 2 + len(heads)
            and attention[:-1] == (steps, *heads)
            and attention[-1] <= MAX_SOURCE_POSITIONS,
            f"{name}: attention {attention} is not ({steps}, {sizes}, S ≤ {MAX_SOURCE_POSITIONS})",
        )
    if "source_mixing" in shapes:
        size = shapes["attention"][-1]
        require(
            shapes["source_mixing"] == (size, size),
            f"{name}: source_mixing {shapes['source_mixing']} is not ({size}, {size})",
        )
    for key, shape in shapes.items():
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(TENSOR_DTYPES[key]).itemsize
        require(nbytes <= MAX_MEMBER_BYTES, f"{name}: {key} {shape} is too large")


def tensor_entry(entry: dict, blob: bytes, key: str, name: str) -> np.ndarray:
    """The array a tensor member holds, its byte count checked against the declared shape;
    probabilities and attention must lie in [0, 1]."""
    shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    require(
        len(blob) == expected,
        f"{name}: {entry['member']} holds {len(blob):,} bytes; shape {list(shape)} needs {expected:,}",
    )
    array = np.frombuffer(blob, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    if key in _IN_UNIT_RANGE:
        require(
            bool(np.all((array >= 0) & (array <= 1.0001))),
            f"{name}: {key} holds values outside [0, 1] (or NaN)",
        )
    if key == "topk_ids":
        require(bool(np.all(array >= 0)), f"{name}: topk_ids holds negative ids")
    return array


# -- the decode record ---------------------------------------------------------------------------
def check_record(record: Any, task: str, decode: dict, name: str) -> None:
    """The decode record (engine/decode_record.py) agrees with the stored arrays: the same
    task, tokens and candidates; pieces, text and source where the stored view needs them."""
    from attnscope.engine.decode_record import RECORD_FORMAT, RECORD_VERSION

    require(isinstance(record, dict), f"{name}: 'record' is not an object")
    require(
        record.get("format") == RECORD_FORMAT and record.get("version") == RECORD_VERSION,
        f"{name}: 'record' is not a decode record of version {RECORD_VERSION}",
    )
    require(
        record.get("task") == task, f"{name}: record.task {record.get('task')!r} is not {task!r}"
    )
    ids = decode["token_ids"]
    width = decode["tensors"]["topk_ids"]["shape"][1]
    steps = record.get("steps")
    require(
        isinstance(steps, list) and len(steps) == len(ids),
        f"{name}: record.steps is not {len(ids)} steps",
    )
    for index, (step, token) in enumerate(zip(steps, ids, strict=True)):
        _check_step(step, token, width, f"{name}: record step {index}")
    require(
        _strings(record.get("pieces"), len(ids)), f"{name}: record.pieces is not {len(ids)} strings"
    )
    text = record.get(_TEXT_FIELD[task])
    require(isinstance(text, str), f"{name}: record.{_TEXT_FIELD[task]} is not text")
    require(isinstance(record.get("done"), bool), f"{name}: record.done is not true or false")
    positions = decode["tensors"].get("attention", {}).get("shape", [None])[-1]
    if task == "translation":
        pieces = record.get("source_pieces")
        require(
            _strings(pieces) and len(pieces) <= MAX_SOURCE_POSITIONS,
            f"{name}: record.source_pieces is not a list of strings",
        )
        require(
            positions is None or positions == len(pieces),
            f"{name}: the attention covers {positions} positions, the source has {len(pieces)}",
        )
    else:
        grid = record.get("grid")
        require(
            isinstance(grid, list) and len(grid) == 2 and all(_is_int(v, 1) for v in grid),
            f"{name}: record.grid is not two positive sizes",
        )
        require(
            positions is None or positions == grid[0] * grid[1],
            f"{name}: the attention covers {positions} cells, the grid {grid[0]}x{grid[1]}",
        )


def _check_step(step: Any, token: int, width: int, where: str) -> None:
    require(isinstance(step, dict), f"{where} is not an object")
    require(
        step.get("token_id") == token, f"{where}: token {step.get('token_id')!r} is not {token}"
    )
    require(isinstance(step.get("piece"), str), f"{where}: piece is not text")
    require(isinstance(step.get("forced"), bool), f"{where}: forced is not true or false")
    topk = step.get("topk")
    require(
        isinstance(topk, list)
        and len(topk) == width
        and all(isinstance(c, dict) and isinstance(c.get("piece"), str) for c in topk),
        f"{where}: topk is not {width} candidates with pieces",
    )


# -- the checkpoint and the settings -------------------------------------------------------------
def checked_checkpoint(value: Any, name: str) -> dict[str, Any]:
    """The manifest's ``checkpoint``: ``path``, ``size`` and ``sha256`` (CheckpointRef's
    fields), each checked."""
    require(isinstance(value, dict), f"{name}: 'checkpoint' is not an object")
    path, size, digest = value.get("path"), value.get("size"), value.get("sha256")
    require(
        isinstance(path, str) and 0 < len(path) <= 4096 and "\x00" not in path,
        f"{name}: checkpoint.path must be a file path, got {str(path)[:80]!r}",
    )
    require(
        isinstance(size, int) and not isinstance(size, bool) and size >= 0,
        f"{name}: checkpoint.size must be a byte count, got {size!r}",
    )
    require(
        isinstance(digest, str) and len(digest) == 64 and set(digest) <= set("0123456789abcdef"),
        f"{name}: checkpoint.sha256 must be 64 lowercase hex digits, got {str(digest)[:80]!r}",
    )
    return {"path": path, "size": size, "sha256": digest}


def checked_settings(value: Any, name: str):
    """The manifest's ``settings`` as a DecodeConfig: no unknown keys, valid values."""
    from attnscope.engine.decoding import DecodeConfig

    require(isinstance(value, dict), f"{name}: 'settings' is not an object")
    known = {f.name for f in dataclasses.fields(DecodeConfig)}
    unknown = sorted(set(value) - known)
    require(not unknown, f"{name}: unknown decode settings {', '.join(map(str, unknown))}")
    try:
        return DecodeConfig(**value)
    except ValueError as exc:
        raise SessionFileError(f"{name}: decode settings: {exc}") from exc


def checked_languages(value: Any, name: str) -> tuple[str, str] | None:
    """The manifest's ``languages`` (a multilingual folder's pair: ``source`` and
    ``target`` codes) as (source, target), None when absent. Only the form is checked
    here; whether the model offers the codes is checked when the session is replayed."""
    if value is None:
        return None
    require(
        isinstance(value, dict) and set(value) == {"source", "target"},
        f"{name}: 'languages' must be an object of 'source' and 'target' codes",
    )
    for side in ("source", "target"):
        code = value[side]
        require(
            isinstance(code, str) and LANGUAGE_CODE.fullmatch(code) is not None,
            f"{name}: languages.{side} must be a language code such as fra_Latn, "
            f"got {str(code)[:40]!r}",
        )
    return value["source"], value["target"]


# -- the input ----------------------------------------------------------------------------------
def checked_input(value: Any, task: str, archive: SessionArchive) -> dict[str, Any]:
    """``{"text": …}`` or ``{"image_name", "image_bytes", "image_rgb"}`` of the manifest's input;
    a picture is decoded within engine.images' pixel limit."""
    name = archive.name
    require(isinstance(value, dict), f"{name}: 'input' is not an object")
    kind = value.get("kind")
    wanted = "text" if task == "translation" else "image"
    require(kind == wanted, f"{name}: a {task} session's input must be {wanted!r}, got {kind!r}")
    if kind == "text":
        text = value.get("text")
        require(
            isinstance(text, str) and 0 < len(text) <= MAX_TEXT_CHARS and text.strip() != "",
            f"{name}: input.text must be a non-empty text of at most {MAX_TEXT_CHARS:,} characters",
        )
        return {"text": text}
    picture, member = value.get("name"), value.get("member")
    require(
        isinstance(picture, str) and 0 < len(picture) <= MAX_NAME_CHARS,
        f"{name}: input.name must be a file name of at most {MAX_NAME_CHARS} characters",
    )
    require(
        isinstance(member, str) and member.startswith("input/"),
        f"{name}: input.member must name a member under input/, got {str(member)[:80]!r}",
    )
    data = archive.read(member)
    return {"image_name": picture, "image_bytes": data, "image_rgb": picture_rgb(data, name)}


def picture_rgb(data: bytes, name: str) -> np.ndarray:
    """A stored picture's pixels (H, W, 3) uint8, within engine.images' pixel limit."""
    from attnscope.engine.images import load_image

    try:
        return np.asarray(load_image(data))
    except ImageInputError as exc:
        raise SessionFileError(f"{name}: the stored picture: {exc}") from exc


def checked_interventions(value: Any, name: str) -> tuple:
    """The file's forced tokens and attention edits, each parsed and checked."""
    items = checked_list(value, "interventions", name)
    if not items:
        return ()
    from attnscope.engine.interventions import intervention_from_dict

    return tuple(_each(items, intervention_from_dict, "intervention", name))


def checked_breakpoints(value: Any, name: str) -> tuple:
    """The file's breakpoint conditions, each parsed and checked."""
    items = checked_list(value, "breakpoints", name)
    if not items:
        return ()
    from attnscope.engine.debugger.breakpoints import condition_from_dict

    return tuple(_each(items, condition_from_dict, "breakpoint", name))


def _each(items: list, parse, what: str, name: str):
    for index, item in enumerate(items):
        try:
            yield parse(item)
        except (ValueError, TypeError, KeyError) as exc:
            raise SessionFileError(f"{name}: {what} {index + 1}: {exc}") from exc
