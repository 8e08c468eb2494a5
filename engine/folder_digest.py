"""A Hugging Face model folder's identity, as a session file names its model: bytes and sha256.

A checkpoint is one file, so a session names it by its size and sha256
(engine/session_replay.py). A model folder is several: ``folder_size`` and
``folder_sha256`` stand for them together. The files counted are the ones that
make the model decode as it did: config.json and generation_config.json, the
weights (model.safetensors, or the shard index and every ``*.safetensors``
shard) and the tokenizer's files (engine/hf/folder.py's lists); a README or
anything else in the folder may change freely. The digest is the sha256 of one
line per file, in name order: ``name<TAB>bytes<TAB>sha256 of the file``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

# besides the weight and tokenizer files engine/hf/folder.py lists
MODEL_FILES = ("config.json", "generation_config.json", "special_tokens_map.json")

Progress = Callable[[int, int], None]  # (bytes done, bytes in all)


def model_files(folder: str | os.PathLike) -> list[Path]:
    """The regular files of ``folder`` that make its model, sorted by name."""
    from attnscope.engine.hf.folder import TOKENIZER_FILES, WEIGHT_FILES

    names = {*MODEL_FILES, *WEIGHT_FILES, *TOKENIZER_FILES}
    return sorted(
        (entry for entry in Path(folder).iterdir() if _counted(entry, names)),
        key=lambda entry: entry.name,
    )


def _counted(entry: Path, names: set[str]) -> bool:
    return (entry.name in names or entry.suffix == ".safetensors") and entry.is_file()


def folder_size(folder: str | os.PathLike) -> int:
    """Bytes of the folder's model files (cheap: no file is read)."""
    return sum(entry.stat().st_size for entry in model_files(folder))


def folder_sha256(
    folder: str | os.PathLike,
    file_sha256: Callable[[Path, Progress | None], str],
    progress: Progress | None = None,
) -> str:
    """The folder's digest (see the module docstring); ``file_sha256(path, progress)``
    hashes one file (the session code's cached reader), ``progress`` hears the bytes
    done over the whole folder."""
    files = model_files(folder)
    sizes = [entry.stat().st_size for entry in files]
    total, done = sum(sizes), 0
    lines = hashlib.sha256()
    for entry, size in zip(files, sizes, strict=True):
        inner = None if progress is None else _shifted(progress, done, total)
        lines.update(f"{entry.name}\t{size}\t{file_sha256(entry, inner)}\n".encode())
        done += size
    return lines.hexdigest()


def _shifted(progress: Progress, base: int, total: int) -> Progress:
    """One file's progress as the whole folder's: ``base`` bytes were done before it."""
    return lambda done, _all: progress(base + done, total)
