"""Set a checkpoint's info in place — languages, recommended decoding — tensors byte-identical.

    python scripts/set_checkpoint_metadata.py CKPT [CKPT ...] \\
        [--src-lang de] [--tgt-lang en] [--info-json choice.json]

Only the safetensors header is rewritten (``attnscope.engine.checkpoint_info``):
the tensor data is copied byte for byte, so every decode stays bit-identical.
Every run also makes the info's paths machine-independent (an absolute path
becomes its last component: ``/…/multi30k/train.de.gz`` -> ``train.de.gz``,
``/…/runs/deen-bahdanau`` -> ``deen-bahdanau``). ``--info-json`` merges a
JSON object's entries into the info, e.g. the ``recommended_decoding`` and
``decoding_choice`` that ``scripts/choose_decoding.py`` writes. Prints the
sha256 of each file's tensor data before and after (always equal).
Exit status 2 with one line for a bad file or option.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from attnscope.engine.checkpoint_format import check_file, read_header
from attnscope.engine.checkpoint_info import portable_paths, rewrite_info
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.languages import language_entries


def data_digest(path: Path) -> str:
    """sha256 of the tensor data (everything after the header)."""
    size = check_file(path)
    _, _, data_size = read_header(path, size)
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        stream.seek(size - data_size)
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _extra_entries(path: str | None) -> dict:
    if path is None:
        return {}
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    recommended = entries.get("recommended_decoding")
    if recommended is not None:
        try:
            DecodeConfig(**recommended)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: recommended_decoding: {exc}") from exc
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--src-lang", help="source language, ISO 639 (translation only)")
    parser.add_argument("--tgt-lang", help="target language, ISO 639")
    parser.add_argument("--info-json", help="JSON object whose entries are merged into the info")
    args = parser.parse_args(argv)
    try:
        extra = _extra_entries(args.info_json)
        for path in args.checkpoints:
            before = data_digest(path)
            task = read_header(path, check_file(path))[1].get("task", "translation")
            entries = {**language_entries(task, args.src_lang, args.tgt_lang), **extra}
            rewrite_info(path, lambda info, e=entries: portable_paths({**info, **e}))
            after = data_digest(path)
            print(f"{path}: tensor data sha256 {before[:16]}… before, {after[:16]}… after")
    except (AttnScopeError, ValueError, OSError) as exc:
        print(f"set_checkpoint_metadata: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
