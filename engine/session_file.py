"""Session files (``.attnscope-session``): a decode saved so that someone else can open it.

A session file is a zip (see docs/session-files.md) holding:

- ``manifest.json``: the format name and version; the task; the checkpoint's
  path, size and sha256; the input text (or the name of the picture member);
  the decode settings (``DecodeConfig`` as a dict); a multilingual folder's
  language pair (``languages``: source and target codes, absent otherwise; the
  decode record's settings name it too); every intervention
  (engine/interventions.py: forced tokens, attention edits, image masks) and
  breakpoint condition (engine/debugger/breakpoints.py), each as its
  ``to_dict()``; the decode record (engine/decode_record.py's
  ``snapshot_record``, the one JSON form of a decode); and a list of the exact
  arrays below;
- ``input/<name>``: the picture's original file bytes (captioning only);
- ``tensors/<name>.bin``: the shown decode's arrays as raw little-endian bytes
  (attention, each step's candidates and log-probabilities), so the stored
  decode can be shown bit for bit without the model. The record's JSON copy is
  rounded to 7 digits; these are not. Never a pickle. The attention is stored
  (T, layers, heads, S) (RNN models: one layer); version 1 files stored
  (T, heads, S) and a version 1 decode record: both are read as one layer
  (``upgrade_record``).

``write_session_file`` writes atomically (temporary file, then rename);
``read_session_file`` validates like a checkpoint (engine/session_archive.py
bounds the zip; this module checks every field's type, size and value) and
raises one SessionFileError naming what is wrong. Replaying a session on its
model is engine/session_replay.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from attnscope.engine.attention_layers import split
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import SessionFileError
from attnscope.engine.inference_results import SessionSnapshot
from attnscope.engine.session_archive import MANIFEST, MAX_MANIFEST_BYTES, SessionArchive
from attnscope.engine.session_archive import parse_json as _parse_json
from attnscope.engine.session_fields import (
    check_record,
    checked_breakpoints,
    checked_checkpoint,
    checked_decode,
    checked_input,
    checked_interventions,
    checked_languages,
    checked_settings,
    require,
    tensor_entry,
)

SESSION_FORMAT = "attnscope.session"
SESSION_VERSION = 2
SESSION_SUFFIX = ".attnscope-session"
TASKS = ("translation", "captioning")


@dataclass(frozen=True)
class CheckpointRef:
    """Which checkpoint made the decode: where it was, and what it held (size, sha256)."""

    path: str
    size: int
    sha256: str  # 64 lowercase hex digits

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SessionInput:
    """The decoded input: ``text`` (translation), or a picture (captioning) as its original
    file bytes, its file name and (after reading) its decoded (H, W, 3) uint8 pixels."""

    text: str | None = None
    image_name: str | None = None
    image_bytes: bytes | None = field(default=None, repr=False)
    image_rgb: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class StoredDecode:
    """The shown decode's exact arrays (T tokens, K candidates a step).

    token_ids:   (T,) int64        log_probs:  (T,) float32 of each chosen token
    topk_ids:    (T, K) int64      topk_probs: (T, K) float32
    attention:   (T, heads, S) float32, None for a model without attention; ``heads`` =
                 ``num_layers`` x heads per layer, layer-major (as a snapshot holds it)
    steps_taken: steps the session took (beam search may take more than T)
    """

    token_ids: np.ndarray
    log_probs: np.ndarray
    topk_ids: np.ndarray
    topk_probs: np.ndarray
    attention: np.ndarray | None
    num_heads: int
    steps_taken: int
    num_layers: int = 1
    source_mixing: np.ndarray | None = None  # (S, S) float32 encoder rollout, or None


@dataclass(frozen=True)
class SessionFile:
    """Everything a session file holds, validated (see the module docstring)."""

    task: str
    checkpoint: CheckpointRef
    source: SessionInput
    settings: DecodeConfig
    record: dict[str, Any]  # the decode record, as engine.decode_record builds it
    decode: StoredDecode
    interventions: tuple = ()  # engine.interventions objects, in the order they were made
    breakpoints: tuple = ()  # engine.debugger.breakpoints conditions
    languages: tuple[str, str] | None = None  # a multilingual folder's (source, target)


# -- from the app's decode ---------------------------------------------------------------
def steps_taken(snapshot: SessionSnapshot) -> int:
    """How many steps the session took: one per token, more when beam search ran on."""
    taken = len(snapshot.steps)
    tree = snapshot.tree
    if tree is not None and len(tree) > 1:
        taken = max(taken, int(tree.steps.max()) + 1)  # steps count from 0; the root is -1
    return taken


def forced_tokens(snapshot: SessionSnapshot) -> tuple:
    """The snapshot's forced steps as ForceToken interventions."""
    from attnscope.engine.interventions import ForceToken

    return tuple(
        ForceToken(step=i, token_id=int(s.token_id))
        for i, s in enumerate(snapshot.steps)
        if s.forced
    )


def stored_decode(snapshot: SessionSnapshot, taken: int | None = None) -> StoredDecode:
    """The snapshot's arrays, exactly (copies)."""
    steps = snapshot.steps
    width = len(steps[0].topk_ids) if steps else 0
    if any(len(s.topk_ids) != width for s in steps):
        raise ValueError("the steps report different numbers of candidates")
    attention = snapshot.attention
    return StoredDecode(
        token_ids=np.array([s.token_id for s in steps], dtype=np.int64),
        log_probs=np.array([s.log_prob for s in steps], dtype=np.float32),
        topk_ids=np.array([s.topk_ids for s in steps], dtype=np.int64).reshape(len(steps), width),
        topk_probs=np.array([s.topk_probs for s in steps], dtype=np.float32).reshape(
            len(steps), width
        ),
        attention=_copy(attention),
        num_heads=int(snapshot.num_heads),
        steps_taken=steps_taken(snapshot) if taken is None else int(taken),
        num_layers=int(snapshot.num_layers),
        source_mixing=_copy(snapshot.source_mixing),
    )


def _copy(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None else np.array(array, dtype=np.float32)


def session_from_snapshot(
    snapshot: SessionSnapshot,
    *,
    task: str,
    checkpoint: CheckpointRef,
    settings: DecodeConfig,
    source: SessionInput,
    interventions: Sequence = (),
    breakpoints: Sequence = (),
    reference: str | None = None,
    report: Any = None,
    languages: tuple[str, str] | None = None,
) -> SessionFile:
    """The session file of the decode the app shows.

    languages: the (source, target) codes a multilingual folder decoded with, kept so
    the replay uses the same pair (``ReplayPlan.languages``); None for other models.
    The snapshot's forced steps are added to ``interventions`` as ForceToken
    (unless that step already has one), so a decode with only forced tokens
    needs no list at all.
    """
    from attnscope.engine.decode_record import snapshot_record
    from attnscope.engine.interventions import ImageMask

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    given = tuple(interventions)
    taken = {i.step for i in given if not isinstance(i, ImageMask)}  # steps already planned
    extra = tuple(f for f in forced_tokens(snapshot) if f.step not in taken)
    record_settings = dataclasses.asdict(settings)
    if languages is not None:
        record_settings["languages"] = language_dict(languages)
    record = snapshot_record(
        snapshot,
        model=checkpoint.path,
        settings=record_settings,
        reference=reference,
        report=report,
        image=source.image_name,
    )
    return SessionFile(
        task=task,
        checkpoint=checkpoint,
        source=source,
        settings=settings,
        record=record,
        decode=stored_decode(snapshot),
        interventions=extra + given,
        breakpoints=tuple(breakpoints),
        languages=languages,
    )


def language_dict(languages: tuple[str, str]) -> dict[str, str]:
    """(source, target) codes as the manifest and the decode record write them."""
    return {"source": languages[0], "target": languages[1]}


# -- writing ----------------------------------------------------------------------------------
def _tensor_members(decode: StoredDecode) -> dict[str, np.ndarray]:
    arrays = {
        "log_probs": decode.log_probs.astype("<f4"),
        "topk_ids": decode.topk_ids.astype("<i8"),
        "topk_probs": decode.topk_probs.astype("<f4"),
    }
    if decode.attention is not None:
        # (T, layers, heads, S): the same bytes as the (T, layers · heads, S) rows
        arrays["attention"] = split(decode.attention, decode.num_layers).astype("<f4")
        if decode.source_mixing is not None:
            arrays["source_mixing"] = decode.source_mixing.astype("<f4")
    return arrays


def manifest(session: SessionFile) -> dict[str, Any]:
    """The manifest.json of ``session`` (JSON-ready)."""
    from attnscope import __version__

    source = session.source
    if source.text is not None:
        input_part: dict[str, Any] = {"kind": "text", "text": source.text}
    else:
        input_part = {"kind": "image", "name": source.image_name, "member": _image_member(source)}
    arrays = _tensor_members(session.decode)
    languages = {} if session.languages is None else {"languages": language_dict(session.languages)}
    return {
        "format": SESSION_FORMAT,
        "version": SESSION_VERSION,
        "written_by": f"AttnScope {__version__}",
        "task": session.task,
        "checkpoint": session.checkpoint.to_dict(),
        "input": input_part,
        "settings": dataclasses.asdict(session.settings),
        **languages,
        "interventions": [i.to_dict() for i in session.interventions],
        "breakpoints": [b.to_dict() for b in session.breakpoints],
        "decode": {
            "token_ids": session.decode.token_ids.tolist(),
            "num_heads": session.decode.num_heads,
            "num_layers": session.decode.num_layers,
            "steps_taken": session.decode.steps_taken,
            "tensors": {
                name: {"member": f"tensors/{name}.bin", "dtype": a.dtype.str, "shape": a.shape}
                for name, a in arrays.items()
            },
        },
        "record": session.record,
    }


def _image_member(source: SessionInput) -> str:
    name = Path(source.image_name or "picture").name.replace("\\", "_") or "picture"
    return f"input/{name}"


def write_session_file(path: str | os.PathLike, session: SessionFile) -> Path:
    """Write ``session`` to ``path`` (a temporary file beside it, then a rename)."""
    from attnscope.engine.decode_record import to_jsonable

    path = Path(path)
    text = json.dumps(to_jsonable(manifest(session)), ensure_ascii=False, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(MANIFEST, text.encode("utf-8"))
                if session.source.image_bytes is not None:
                    archive.writestr(_image_member(session.source), session.source.image_bytes)
                for name, array in _tensor_members(session.decode).items():
                    archive.writestr(f"tensors/{name}.bin", array.tobytes())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


# -- reading ------------------------------------------------------------------------------------
def read_session_file(path: str | os.PathLike) -> SessionFile:
    """Read and validate a session file; anything wrong raises one SessionFileError."""
    with SessionArchive(path) as archive:
        name = archive.name
        data = _parse_json(
            archive.read(MANIFEST, limit=MAX_MANIFEST_BYTES), f"{name}: manifest.json"
        )
        try:
            return _session(archive, data)
        except SessionFileError:
            raise
        except (ValueError, TypeError, KeyError) as exc:  # a from_dict or DecodeConfig refusal
            raise SessionFileError(f"{name}: {exc}") from exc


def _session(archive: SessionArchive, data: Any) -> SessionFile:
    from attnscope.engine.decode_record import upgrade_record

    name = archive.name
    require(isinstance(data, dict), f"{name}: manifest.json is not a JSON object")
    found = data.get("format")
    require(found == SESSION_FORMAT, f"{name}: not an AttnScope session (format {found!r})")
    version = data.get("version")
    require(
        isinstance(version, int) and not isinstance(version, bool) and version >= 1,
        f"{name}: the session version {version!r} is not a positive integer",
    )
    require(
        version <= SESSION_VERSION,
        f"{name}: written by a newer AttnScope (session version {version}); "
        f"this one reads up to version {SESSION_VERSION}",
    )
    task = data.get("task")
    require(task in TASKS, f"{name}: unknown task {task!r}; valid: {', '.join(TASKS)}")
    record = data.get("record") if version > 1 else upgrade_record(data.get("record"))
    decode = checked_decode(data.get("decode"), name, layered=version > 1)
    check_record(record, task, decode, name)
    tensors = {key: archive.read(entry["member"]) for key, entry in decode["tensors"].items()}
    return SessionFile(
        task=task,
        checkpoint=CheckpointRef(**checked_checkpoint(data.get("checkpoint"), name)),
        source=SessionInput(**checked_input(data.get("input"), task, archive)),
        settings=checked_settings(data.get("settings"), name),
        record=record,
        decode=_stored(decode, tensors, name),
        interventions=checked_interventions(data.get("interventions"), name),
        breakpoints=checked_breakpoints(data.get("breakpoints"), name),
        languages=checked_languages(data.get("languages"), name),
    )


def _stored(decode: dict, tensors: dict[str, bytes], name: str) -> StoredDecode:
    arrays = {
        key: tensor_entry(decode["tensors"][key], blob, key, name) for key, blob in tensors.items()
    }
    attention = arrays.get("attention")
    if attention is not None:  # (T, layers, heads, S) or version 1's (T, heads, S)
        attention = attention.reshape(attention.shape[0], decode["num_heads"], attention.shape[-1])
    return StoredDecode(
        token_ids=np.asarray(decode["token_ids"], dtype=np.int64),
        log_probs=arrays["log_probs"],
        topk_ids=arrays["topk_ids"],
        topk_probs=arrays["topk_probs"],
        attention=attention,
        num_heads=decode["num_heads"],
        steps_taken=decode["steps_taken"],
        num_layers=decode["num_layers"],
        source_mixing=arrays.get("source_mixing"),
    )
