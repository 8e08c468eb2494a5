"""What the session-file tests share: a decode of SOURCE on the tiny model, saved to a file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from attnscope.engine.session_file import SessionInput, session_from_snapshot, write_session_file
from attnscope.engine.session_replay import checkpoint_ref

SOURCE = "ein mann fährt fahrrad ."


def decode(model, config, forced=None, steps=None):
    """An open session on SOURCE: ``forced`` = (step, token) taken there, then run on."""
    opened = model.open_session(SOURCE, config)
    if forced is not None:
        opened.run(until=forced[0])
        opened.force(forced[1], at_step=forced[0])
    opened.run(until=steps)
    return opened


def saved(model, tmp_path, opened, **options) -> Path:
    """The decode of ``opened`` written to a session file in ``tmp_path`` (``options``: what
    session_from_snapshot takes besides, e.g. interventions or breakpoints)."""
    snapshot = opened.snapshot()
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(model.checkpoint.path),
        settings=opened.session.config,
        source=SessionInput(text=snapshot.source_text),
        **options,
    )
    return write_session_file(tmp_path / "decode.attnscope-session", session)


def manifest_of(path: Path) -> dict:
    """The manifest of the session file at ``path``."""
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def rewrite(src: Path, dst: Path, manifest=None, extra=None, drop=(), raw_manifest=None) -> Path:
    """``src`` with its manifest replaced, members added (name -> bytes) or dropped."""
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    if manifest is not None:
        members["manifest.json"] = json.dumps(manifest).encode()
    if raw_manifest is not None:
        members["manifest.json"] = raw_manifest
    members.update(extra or {})
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst
