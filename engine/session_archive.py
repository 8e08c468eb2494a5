"""Reading a session zip the way a checkpoint is read: bounded, and nothing trusted.

``SessionArchive`` opens an ``.attnscope-session`` zip and checks its table of
contents before a single member is decompressed: the file's size, the number of
members, every member's declared size and their total, the compression method,
encryption, symlinks and names (no ``..``, no absolute or drive paths, no
backslashes, only the folders the format uses, no duplicates). A member is then
read with a hard cap, so a member that inflates past what it declared (a zip
bomb with a lying header) is cut off, not decompressed. ``parse_json`` checks a
manifest's nesting depth before ``json.loads`` sees it and refuses NaN and
infinities. Nothing is ever unpickled. Every refusal is one SessionFileError
naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from attnscope.engine.errors import SessionFileError

MANIFEST = "manifest.json"
MAX_FILE_BYTES = 512 * 1024 * 1024  # the zip on disk
MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 128 * 1024 * 1024  # one member, uncompressed
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # every member, uncompressed
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
MAX_JSON_DEPTH = 32
# input/<file name> and tensors/<name>.bin; the name part has no separators or dots-only
MEMBER_PATTERN = re.compile(r"(manifest\.json|input/[^/\\:\x00]{1,200}|tensors/[a-z_]{1,40}\.bin)")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


@dataclass(frozen=True)
class MemberInfo:
    """What the zip's directory declares about one member."""

    name: str
    size: int  # uncompressed bytes, as declared


class SessionArchive:
    """A checked, open session zip: ``members`` lists what it holds, ``read`` reads one.

    Use as a context manager. Raises SessionFileError when the file is not a zip,
    is too large, or its table of contents breaks one of the rules above.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._zip = _open_zip(self.path)
        try:
            self.members = _checked_members(self._zip, self.name)
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> SessionArchive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()

    def has(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str, *, limit: int = MAX_MEMBER_BYTES) -> bytes:
        """The member's bytes; missing, over ``limit`` or larger than declared: refused."""
        member = self.members.get(name)
        if member is None:
            raise SessionFileError(f"{self.name}: the member {name!r} is missing")
        if member.size > limit:
            raise SessionFileError(
                f"{self.name}: {name} declares {member.size:,} bytes, over the "
                f"{limit:,}-byte limit for it"
            )
        try:
            with self._zip.open(name) as stream:
                data = stream.read(member.size + 1)  # one byte more tells a lying size
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise SessionFileError(f"{self.name}: {name} is corrupt ({exc})") from exc
        if len(data) != member.size:
            raise SessionFileError(
                f"{self.name}: {name} holds {len(data):,}+ bytes but declares {member.size:,}"
            )
        return data


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        if not path.is_file():
            raise SessionFileError(f"{path.name}: not a file (it is missing or a folder)")
        size = path.stat().st_size
    except OSError as exc:  # a symlink loop, a permission problem
        raise SessionFileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_FILE_BYTES:
        raise SessionFileError(
            f"{path.name}: {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit of a session"
        )
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise SessionFileError(
            f"{path.name}: not an AttnScope session (not a zip archive: {exc})"
        ) from exc


def _checked_members(archive: zipfile.ZipFile, name: str) -> dict[str, MemberInfo]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise SessionFileError(f"{name}: {len(infos)} members, over the limit of {MAX_MEMBERS}")
    members: dict[str, MemberInfo] = {}
    total = 0
    for info in infos:
        _check_member(info, name)
        if info.filename in members:
            raise SessionFileError(f"{name}: the member {info.filename!r} appears twice")
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise SessionFileError(
                f"{name}: the members add up to over {MAX_TOTAL_BYTES:,} bytes uncompressed"
            )
        members[info.filename] = MemberInfo(info.filename, info.file_size)
    return members


def _check_member(info: zipfile.ZipInfo, name: str) -> None:
    """One member's name, type, compression and declared size (nothing decompressed)."""
    member = info.filename
    if _unsafe_name(member):
        raise SessionFileError(f"{name}: the member name {member!r} points outside the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise SessionFileError(f"{name}: the member {member!r} is a symbolic link")
    if not MEMBER_PATTERN.fullmatch(member) or member.endswith("/"):
        raise SessionFileError(
            f"{name}: unexpected member {member!r} (a session holds manifest.json, "
            "input/<picture> and tensors/<name>.bin only)"
        )
    if info.flag_bits & 0x1:
        raise SessionFileError(f"{name}: the member {member!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise SessionFileError(
            f"{name}: the member {member!r} uses compression method {info.compress_type}; "
            "only stored and deflated members are read"
        )
    if info.file_size > MAX_MEMBER_BYTES:
        raise SessionFileError(
            f"{name}: {member} declares {info.file_size:,} bytes uncompressed, over the "
            f"{MAX_MEMBER_BYTES:,}-byte limit"
        )


def _unsafe_name(member: str) -> bool:
    parts = member.replace("\\", "/").split("/")
    return (
        not member
        or "\\" in member
        or "\x00" in member
        or member.startswith("/")
        or re.match(r"[A-Za-z]:", member) is not None
        or any(part in ("..", ".") for part in parts)
    )


# -- JSON ---------------------------------------------------------------------------------------
def json_depth(data: bytes) -> int:
    """How deep arrays and objects nest in JSON text ``data`` (strings skipped), without
    parsing it: a flat scan, so a hostile ``[[[[…`` costs no recursion."""
    skeleton = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    steps = np.zeros(skeleton.shape, dtype=np.int32)
    steps[(skeleton == ord("[")) | (skeleton == ord("{"))] = 1
    steps[(skeleton == ord("]")) | (skeleton == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(data: bytes, what: str) -> Any:
    """``data`` as JSON, after a depth check; NaN, Infinity and bad UTF-8 are refused."""
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        raise SessionFileError(
            f"{what} nests {depth} levels deep, over the limit of {MAX_JSON_DEPTH}"
        )
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise SessionFileError(f"{what} is not UTF-8 text ({exc.reason})") from exc
    except (ValueError, RecursionError) as exc:
        raise SessionFileError(f"{what} is not valid JSON: {exc}") from exc
