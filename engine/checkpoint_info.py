"""Change a checkpoint's info (its ``training_info`` metadata) without touching its tensors.

``rewrite_info(path, changes)`` rewrites only the safetensors header: the
8-byte length, the JSON header with the new ``training_info`` string, then the
tensor data copied byte for byte (tensor offsets count from the start of the
data, so they stay valid). ``scripts/set_checkpoint_metadata.py`` uses it on
the shipped checkpoints and ``attnscope train`` to store the decoding it chose.

``portable_paths(info, base_dir)`` is what a checkpoint may say about where
its data was: a path inside ``base_dir`` (the training config file's folder)
relative to it, any other absolute path by its last component only, so a
shared file never carries the layout of the machine that made it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from attnscope.engine.checkpoint_format import check_file, checkpoint_error, read_header

INFO_KEY = "training_info"
HEADER_ALIGN = 8  # safetensors pads its header with spaces to a multiple of 8
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]|^\\\\")


def is_machine_path(value: str) -> bool:
    """True for an absolute POSIX or Windows path (or a ``~`` home path)."""
    text = value.strip()
    return text.startswith(("/", "~/")) or bool(_WINDOWS_ABSOLUTE.match(text))


def _portable(value: str, base: Path | None) -> str:
    """One path string: relative to ``base`` when inside it, else its last component."""
    if base is not None:
        try:
            relative = Path(os.path.abspath(os.path.expanduser(value))).relative_to(base)
        except ValueError:
            relative = None
        if relative is not None and relative.parts:
            return relative.as_posix()
    if _WINDOWS_ABSOLUTE.match(value.strip()):
        return PureWindowsPath(value).name
    return PurePosixPath(value.rstrip("/")).name or value


def portable_paths(
    value: Any, base_dir: str | os.PathLike | None = None, *, keys: frozenset[str] = frozenset()
) -> Any:
    """``value`` (nested dicts / lists) with its paths made machine-independent.

    Every absolute path string, and every string under one of ``keys`` (paths
    relative to the working directory mean nothing elsewhere either), becomes
    relative to ``base_dir`` when it lies inside it, else its last component.
    """
    base = Path(os.path.abspath(base_dir)) if base_dir is not None else None

    def walk(item: Any, path_key: bool) -> Any:
        if isinstance(item, dict):
            return {k: walk(v, k in keys) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(v, path_key) for v in item]
        if isinstance(item, str) and item and (path_key or is_machine_path(item)):
            return _portable(item, base)
        return item

    return walk(value, False)


def machine_paths(value: Any) -> list[str]:
    """Every absolute path string inside ``value`` (nested dicts / lists)."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in machine_paths(v)]
    if isinstance(value, list | tuple):
        return [p for v in value for p in machine_paths(v)]
    return [value] if isinstance(value, str) and is_machine_path(value) else []


def read_info(path: str | os.PathLike) -> dict[str, Any]:
    """A checkpoint's info dict, read from its header only."""
    path = Path(path)
    _, metadata, _ = read_header(path, check_file(path))
    return _info_of(path, metadata)


def _info_of(path: Path, metadata: Mapping[str, str]) -> dict[str, Any]:
    try:
        info = json.loads(metadata.get(INFO_KEY, "{}"))
    except json.JSONDecodeError as exc:
        raise checkpoint_error(path, f"metadata {INFO_KEY!r} is not valid JSON: {exc}") from exc
    if not isinstance(info, dict):
        raise checkpoint_error(path, f"metadata {INFO_KEY!r} must be a JSON object")
    return info


def rewrite_info(
    path: str | os.PathLike,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write ``path`` (or a copy at ``out``) with info ``change(info)``; tensors untouched.

    The new file is written beside the target and renamed over it, so an
    interrupted rewrite leaves the old file. Returns the new info.
    """
    path = Path(path)
    size = check_file(path)
    header, metadata, data_size = read_header(path, size)
    info = change(_info_of(path, metadata))
    metadata = {**metadata, INFO_KEY: json.dumps(info, ensure_ascii=False)}
    raw = json.dumps({"__metadata__": metadata, **header}, ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % HEADER_ALIGN)
    target = Path(out) if out is not None else path
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as sink, path.open("rb") as source:
            sink.write(struct.pack("<Q", len(raw)) + raw)
            source.seek(size - data_size)
            shutil.copyfileobj(source, sink, length=1 << 20)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return info
