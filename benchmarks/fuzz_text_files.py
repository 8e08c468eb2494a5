"""Text files the fuzzers feed translate -i, score, evaluate and the app's file translation.

A case is a file's lines as bytes: clean sentences with Unicode line and record
separators inside them (U+2028, U+2029, NEL, form feed, vertical tab, file/group/
record separators, a lone CR), invalid UTF-8 (a stray byte, CESU-8 surrogates, an
overlong form, Latin-1, a cut-off sequence), CRLF endings, with or without a final
newline, plain or gzip-compressed. The invariant: one line read per ``\\n`` in the
file, exactly the lines with bad bytes reported, and one output line per input line.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from hypothesis import strategies as st

SEPARATORS = ("\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\r")
BAD_UTF8 = (
    b"\xff",  # never valid
    b"\xc3",  # a lead byte with its continuation cut off
    b"\xed\xa0\x80",  # CESU-8: a UTF-16 high surrogate encoded on its own
    b"\xed\xa0\xbd\xed\xb8\x80",  # CESU-8 for U+1F600
    b"\xc0\xaf",  # overlong "/"
    b"caf\xe9",  # Latin-1
    b"\xf4\x90\x80\x80",  # past U+10FFFF
)
WORDS = ("der", "hund", "läuft", "im", "park", ".", "die", "katze", "hallo", "welt", "!")


@dataclass(frozen=True)
class TextFileCase:
    """A text file: ``lines`` joined by ``\\n`` (``\\r\\n`` with ``crlf``), maybe gzipped."""

    lines: tuple[bytes, ...]
    crlf: bool = False
    final_newline: bool = True
    gzip: bool = False

    def content(self) -> bytes:
        """The file's bytes as they are stored (compressed when ``gzip``)."""
        end = b"\r\n" if self.crlf else b"\n"
        data = end.join(self.lines)
        if self.lines and (self.final_newline or self.lines[-1] == b""):
            data += end
        return gzip.compress(data, mtime=0) if self.gzip else data

    def expected_lines(self) -> int:
        """Lines a reader splitting on ``\\n`` only must return."""
        data = gzip.decompress(self.content()) if self.gzip else self.content()
        return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)

    def bad_lines(self) -> tuple[int, ...]:
        """1-based numbers of the lines that are not valid UTF-8."""
        bad = []
        for number, line in enumerate(self.lines, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad.append(number)
        return tuple(bad)


def _line(words: list[str], inserts: list[tuple[int, str | bytes]]) -> bytes:
    line = " ".join(words).encode("utf-8")
    for at, piece in inserts:
        at %= len(line) + 1
        line = (
            line[:at] + (piece if isinstance(piece, bytes) else piece.encode("utf-8")) + line[at:]
        )
    return line


_inserts = st.lists(
    st.tuples(st.integers(0, 60), st.sampled_from(SEPARATORS) | st.sampled_from(BAD_UTF8)),
    max_size=3,
)
_lines = st.builds(_line, st.lists(st.sampled_from(WORDS), max_size=8), _inserts)


def text_file_inputs() -> st.SearchStrategy[TextFileCase]:
    """Files of 0-12 lines, clean or hostile, plain or gzip."""
    return st.builds(
        TextFileCase,
        lines=st.lists(_lines, max_size=12).map(tuple),
        crlf=st.booleans(),
        final_newline=st.booleans(),
        gzip=st.booleans(),
    )


__all__ = ["BAD_UTF8", "SEPARATORS", "TextFileCase", "text_file_inputs"]
