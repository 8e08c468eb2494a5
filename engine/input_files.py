"""Reading users' input files safely: what a path is, bounded text, newline-only lines.

Every text input (translate -i, score and evaluate's --src/--ref, the app's file
translation, training data) goes through ``read_text_lines``:

- only a regular file is read; a FIFO, a device, a socket, a folder, a broken
  symbolic link or a symbolic-link loop is refused with a message saying what
  it is (``special_file_kind``), and opening never blocks on a FIFO;
- gzip content (by its magic bytes, whatever the name) is decompressed in chunks
  and refused once it passes ``max_bytes``, so a small gzip bomb costs nothing;
- lines are split on ``\\n`` only (one ``\\r`` before it is dropped): U+2028, NEL,
  form feed or a record separator inside a line stay in that line, so outputs
  keep one line per input line (``str.splitlines`` would split there);
- a line that is not valid UTF-8 (CESU-8 surrogates included) has its bad bytes
  replaced by U+FFFD and its number reported; the other lines are untouched.
"""

from __future__ import annotations

import errno
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from attnscope.engine.errors import DataError

MiB = 1024 * 1024
MAX_DECODE_INPUT_BYTES = 256 * MiB  # a file to translate or score (decompressed)
MAX_TRAINING_TEXT_BYTES = 1024 * MiB  # one training data file (decompressed)
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = MiB

_FIFO = "a FIFO (named pipe)"
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, _FIFO),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class TextLines:
    """A text file's lines (no line endings) and the 1-based numbers of those whose
    invalid UTF-8 was replaced by U+FFFD."""

    lines: list[str]
    replaced: tuple[int, ...] = ()

    def replaced_note(self, name: str) -> str | None:
        """One sentence naming the lines whose bad bytes were replaced, or None."""
        if not self.replaced:
            return None
        shown = ", ".join(str(n) for n in self.replaced[:5])
        more = f" and {len(self.replaced) - 5} more" if len(self.replaced) > 5 else ""
        plural = "s" if len(self.replaced) > 1 else ""
        return (
            f"{name}: line{plural} {shown}{more} not valid UTF-8; "
            "the bad bytes were replaced with U+FFFD"
        )


def display_path(path: str | os.PathLike) -> str:
    """A path as text that always encodes as UTF-8: bytes that are not UTF-8 in a file
    name (kept by Python as lone surrogates) are shown as ``\\xNN``."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def printable(text: str) -> str:
    """``text`` made safe to write as UTF-8: lone surrogates (bytes of a file name that
    were not UTF-8) become ``\\xNN``, other lone surrogates ``\\udNNN``."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def special_file_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it is not a regular file ("a FIFO (named pipe)", "a symbolic
    link loop", "missing", ...), or None for a regular file (symbolic links followed)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"a broken symbolic link (to {display_path(os.readlink(path))})"
        if exc.errno == errno.ENOENT:
            return "missing"
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")


def open_regular_file(
    path: str | os.PathLike, what: str = "file", *, allow_pipe: bool = False
) -> BinaryIO:
    """Open a regular file for reading, or raise DataError saying what ``path`` is.

    Opened non-blocking and checked again on the open descriptor, so a FIFO swapped
    in after the first look neither blocks nor gets read. ``allow_pipe``: a pipe the
    user named on the command line (``-i <(zcat f.gz)``, ``-i /dev/stdin``) is read
    like standard input, blocking until its writer closes it (the app never allows it).
    """
    name = display_path(path)
    kind = special_file_kind(path)
    if kind == "missing":
        raise DataError(f"cannot read {what} {name}: it does not exist")
    if allow_pipe and kind == _FIFO:
        try:
            return open(path, "rb")  # the caller closes it
        except OSError as exc:
            raise DataError(f"cannot read {what} {name}: {exc.strerror or exc}") from exc
    if kind is not None:
        raise DataError(f"cannot read {what} {name}: it is {kind}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise DataError(f"cannot read {what} {name}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise DataError(f"{what} {name} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bounded(stream: BinaryIO, name: str, max_bytes: int) -> bytes:
    """All of ``stream`` (gunzipped when it starts with the gzip magic), refused with
    DataError once it passes ``max_bytes`` (after decompression)."""
    head = stream.read(len(GZIP_MAGIC))
    if head != GZIP_MAGIC:
        parts, total = [head], len(head)
        while chunk := stream.read(_CHUNK):  # in chunks: no max_bytes buffer up front
            parts.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise DataError(f"{name} is larger than the {_size(max_bytes)} limit")
        return b"".join(parts)
    return _gunzip_bounded(head, stream, name, max_bytes)


def _size(count: int) -> str:
    return f"{count / MiB:g} MiB" if count >= MiB else f"{count:,} bytes"


def _gunzip_bounded(head: bytes, stream: BinaryIO, name: str, max_bytes: int) -> bytes:
    """Decompress every gzip member of ``head + stream`` in chunks, never holding more
    than ``max_bytes`` of output."""
    parts: list[bytes] = []
    total = 0
    pending = head
    inflater = zlib.decompressobj(wbits=31)
    try:
        while True:
            if not pending:
                pending = stream.read(_CHUNK)
                if not pending:
                    break
            if inflater.eof:  # another gzip member follows (cat a.gz b.gz)
                inflater = zlib.decompressobj(wbits=31)
            out = inflater.decompress(pending, max_bytes + 1 - total)
            total += len(out)
            parts.append(out)
            if total > max_bytes:
                raise DataError(
                    f"{name} expands to more than the {_size(max_bytes)} limit when decompressed"
                )
            pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    except zlib.error as exc:
        raise DataError(f"{name} is not a valid gzip file: {exc}") from exc
    if not inflater.eof:
        raise DataError(f"{name} is a truncated gzip file")
    return b"".join(parts)


def split_lines(data: bytes) -> TextLines:
    """Lines of UTF-8 ``data`` split on newline only (one ``\\r`` before it dropped);
    a final newline does not start a line. Bad UTF-8 is replaced line by line."""
    if not data:
        return TextLines([])
    chunks = data.split(b"\n")
    if chunks[-1] == b"":
        chunks.pop()
    if data.startswith(b"\xef\xbb\xbf"):
        chunks[0] = chunks[0][3:]  # a UTF-8 byte-order mark is not part of line 1
    lines: list[str] = []
    replaced: list[int] = []
    for number, chunk in enumerate(chunks, 1):
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(chunk.decode("utf-8", "replace"))
            replaced.append(number)
    return TextLines(lines, tuple(replaced))


def read_text_lines(
    path: str | os.PathLike,
    *,
    max_bytes: int | None = None,
    what: str = "file",
    allow_pipe: bool = False,
) -> TextLines:
    """The lines of a text file (gzip accepted), bounded (``MAX_DECODE_INPUT_BYTES`` unless
    ``max_bytes`` says otherwise) and split as the module says; ``allow_pipe`` as for
    ``open_regular_file``."""
    name = display_path(path)
    with open_regular_file(path, what, allow_pipe=allow_pipe) as stream:
        return split_lines(read_bounded(stream, name, max_bytes or MAX_DECODE_INPUT_BYTES))


def read_stream_lines(stream: BinaryIO, *, max_bytes: int | None = None) -> TextLines:
    """The lines of a binary stream such as ``sys.stdin.buffer``, as ``read_text_lines``."""
    return split_lines(read_bounded(stream, "standard input", max_bytes or MAX_DECODE_INPUT_BYTES))


def check_output_path(path: str | os.PathLike, option: str) -> None:
    """Refuse, before any work, an output path that cannot be written: a folder, or a
    file in a folder that does not exist. Raises DataError naming ``option``."""
    target = Path(path)
    name = display_path(path)
    if target.is_dir():
        raise DataError(f"{option} {name} is a folder; give a file name")
    parent = target.parent
    if not parent.is_dir():
        kind = special_file_kind(parent)
        what = "does not exist" if kind == "missing" else f"is {kind or 'not a folder'}"
        raise DataError(f"{option} {name}: the folder {display_path(parent)} {what}")
    if not os.access(parent, os.W_OK):
        raise DataError(f"{option} {name}: the folder {display_path(parent)} is not writable")


def write_text_atomically(path: str | os.PathLike, text: str, option: str) -> None:
    """Write ``text`` whole to a temporary file beside ``path``, then rename it: a failed
    write leaves neither a half-written ``path`` nor the temporary file. An existing
    special file (``-o /dev/stdout``, a FIFO) is written directly."""
    check_output_path(path, option)
    if os.path.exists(path) and special_file_kind(path) is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    partial = Path(f"{os.fspath(path)}.partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot write {option} {display_path(path)}: {exc.strerror}") from exc
