"""Reading training data from users' files: parallel text, TSV pairs, captions.

Translation data comes either as two line-aligned plain-text files (one
sentence per line; ``.gz`` accepted) or as one TSV of pairs such as a
Tatoeba / manythings.org file (``English<TAB>Chinese<TAB>attribution``) where
the caller picks the source and target columns and extra columns are ignored.

Captioning data is an image folder plus a CSV with a header ``image,caption``
(several rows per image), optionally narrowed by a split file
(``image<TAB>split`` per line, e.g. Flickr8k's train/dev/test).

Everything here returns plain Python objects; nothing is tokenized yet.
"""

from __future__ import annotations

import csv
import io
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from attnscope.engine.errors import DataError
from attnscope.engine.input_files import (
    MAX_TRAINING_TEXT_BYTES,
    display_path,
    open_regular_file,
    read_bounded,
    split_lines,
)

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class TextPair:
    """One source sentence and its translation."""

    source: str
    target: str


@dataclass(frozen=True)
class CaptionedImage:
    """One image file and all its reference captions."""

    path: Path
    captions: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.name


def read_data_bytes(path: str | Path) -> bytes:
    """A data file's bytes (gunzipped when gzip), refused past ``MAX_TRAINING_TEXT_BYTES``
    after decompression; special files are named (engine/input_files.py)."""
    with open_regular_file(path, "data file") as stream:
        return read_bounded(stream, display_path(path), MAX_TRAINING_TEXT_BYTES)


def read_lines(path: str | Path) -> list[str]:
    """All lines of a (possibly gzipped) text file without their line endings, split on
    newline only; a line with invalid UTF-8 keeps its place with U+FFFD (logged)."""
    text = split_lines(read_data_bytes(path))
    if text.replaced:
        logger.warning("%s", text.replaced_note(display_path(path)))
    return text.lines


def read_parallel(source_path: str | Path, target_path: str | Path) -> list[TextPair]:
    """Line-aligned source/target files -> pairs; both must have the same line count."""
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise DataError(
            f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)}; "
            "parallel files must be line-aligned"
        )
    return [TextPair(s.strip(), t.strip()) for s, t in zip(sources, targets, strict=True)]


def read_tsv_pairs(
    path: str | Path, *, source_column: int = 0, target_column: int = 1
) -> list[TextPair]:
    """Pairs from a tab-separated file; columns are 0-based, other columns ignored.

    Lines with too few columns raise ``DataError`` naming the line; blank
    lines are skipped.
    """
    if source_column == target_column or min(source_column, target_column) < 0:
        raise DataError(
            f"source and target columns must be distinct and >= 0, got "
            f"{source_column} and {target_column}"
        )
    needed = max(source_column, target_column) + 1
    pairs = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < needed:
            raise DataError(
                f"{path}:{number} has {len(fields)} tab-separated columns, need {needed}"
            )
        pairs.append(TextPair(fields[source_column].strip(), fields[target_column].strip()))
    return pairs


def drop_empty(pairs: Iterable[TextPair]) -> list[TextPair]:
    """Pairs where both sides have text (empty lines would train the model to stop)."""
    return [p for p in pairs if p.source and p.target]


def read_captions_csv(path: str | Path) -> dict[str, list[str]]:
    """``image,caption`` CSV (with that header) -> {image name: [captions in file order]}."""
    name = display_path(path)
    reader = csv.reader(io.StringIO(_strict_utf8(read_data_bytes(path), name), newline=""))
    captions: dict[str, list[str]] = {}
    try:
        header = next(reader, None)
        if header is None or [h.strip().lower() for h in header[:2]] != ["image", "caption"]:
            raise DataError(f"{name} must start with the header 'image,caption', got {header}")
        for row in reader:
            if not row:
                continue
            if len(row) < 2:
                raise DataError(f"{name}:{reader.line_num} needs 'image,caption', got {row}")
            caption = ",".join(row[1:]).strip()
            if caption:
                captions.setdefault(row[0].strip(), []).append(caption)
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (131,072 characters)
        raise DataError(f"{name}:{reader.line_num}: {exc}") from exc
    return captions


def _strict_utf8(data: bytes, name: str) -> str:
    """``data`` as UTF-8 (a byte-order mark dropped), or DataError naming the line and byte
    (a Latin-1 export, say): a captions file is refused, not silently altered."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start : exc.start + 1].hex()
        raise DataError(
            f"{name}:{line} is not UTF-8 (byte 0x{byte}); save the file as UTF-8"
        ) from exc


def read_split_file(path: str | Path) -> dict[str, str]:
    """``image<TAB>split`` lines -> {image name: split}; a leading header row is skipped."""
    splits: dict[str, str] = {}
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{path}:{number} needs 'image<TAB>split', got {line!r}")
        image, split = fields[0].strip(), fields[1].strip()
        if number == 1 and image.lower() == "image":
            continue
        splits[image] = split
    return splits


def load_captioned_images(
    image_dir: str | Path,
    captions_path: str | Path,
    *,
    split_path: str | Path | None = None,
    splits: Sequence[str] = (),
) -> list[CaptionedImage]:
    """Images of ``image_dir`` that have captions (and, with a split file, a wanted split).

    Images named in the captions file but missing from the folder are skipped
    with one warning (a partial copy of a dataset is common). Sorted by name
    so the order never depends on the file system.
    """
    image_dir = Path(image_dir)
    if not image_dir.is_dir():
        raise DataError(f"image folder {image_dir} does not exist")
    captions = read_captions_csv(captions_path)
    names = sorted(captions)
    if split_path is not None:
        split_of = read_split_file(split_path)
        wanted = set(splits)
        names = [n for n in names if split_of.get(n) in wanted]
        if not names:
            found = sorted(set(split_of.values()))
            raise DataError(
                f"no captioned images in split(s) {sorted(wanted)} of {split_path}; "
                f"splits there: {', '.join(found)}"
            )
    present = [n for n in names if (image_dir / n).is_file()]
    if len(present) < len(names):
        logger.warning(
            "%d of %d captioned images are missing from %s; skipping them",
            len(names) - len(present),
            len(names),
            image_dir,
        )
    if not present:
        raise DataError(f"none of the captioned images of {captions_path} are in {image_dir}")
    return [CaptionedImage(image_dir / n, tuple(captions[n])) for n in present]


def hold_out(items: Sequence, count: int, *, seed: int = 0) -> tuple[list, list]:
    """Split off ``count`` items picked at random (reproducibly) for validation.

    Returns (train, held_out), both in their original order. Picking at random
    matters for files sorted by length, such as Tatoeba's.
    """
    if count <= 0:
        return list(items), []
    if count >= len(items):
        raise DataError(f"cannot hold out {count} of only {len(items)} examples for validation")
    chosen = set(random.Random(seed).sample(range(len(items)), count))
    train = [item for i, item in enumerate(items) if i not in chosen]
    held = [item for i, item in enumerate(items) if i in chosen]
    return train, held
