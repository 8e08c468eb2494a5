"""Hostile session files dropped on the real window: each gives one message naming the file,
nothing is unpickled or written outside, and the window keeps translating afterwards."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from window_support import SOURCE, TIMEOUT, load, wait_snapshot

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference import load_inference_model
from attnscope.engine.session_archive import MAX_MEMBER_BYTES
from attnscope.engine.session_file import SessionInput, session_from_snapshot, write_session_file
from attnscope.engine.session_replay import checkpoint_ref

MARKER = "unpickled-payload-ran"


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _valid(folder: Path, checkpoint: Path) -> Path:
    model = load_inference_model(checkpoint, device="cpu")
    opened = model.open_session(SOURCE, DecodeConfig())
    opened.run(until=3)
    opened.force(10, at_step=1)
    snapshot = opened.snapshot()
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(checkpoint),
        settings=DecodeConfig(),
        source=SessionInput(text=SOURCE),
    )
    return write_session_file(folder / "valid.attnscope-session", session)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def zip_slip(folder, valid):
    return _zip(folder / "slip.attnscope-session", {**_members(valid), "../../evil.txt": b"x"})


def huge_manifest(folder, valid):
    raw = b'{"pad": "' + b" " * (33 * 1024 * 1024) + b'"}'
    return _zip(folder / "huge.attnscope-session", {**_members(valid), "manifest.json": raw})


def zip_bomb(folder, valid):
    bomb = {"tensors/attention.bin": bytes(MAX_MEMBER_BYTES + 1)}
    return _zip(folder / "bomb.attnscope-session", {**_members(valid), **bomb})


def missing_manifest(folder, valid):
    members = _members(valid)
    del members["manifest.json"]
    return _zip(folder / "missing.attnscope-session", members)


def bad_json(folder, valid):
    return _zip(folder / "badjson.attnscope-session", {**_members(valid), "manifest.json": b"{"})


def deep_nesting(folder, valid):
    raw = b"[" * 50_000 + b"]" * 50_000
    return _zip(folder / "deep.attnscope-session", {**_members(valid), "manifest.json": raw})


def pickled_manifest(folder, valid):
    payload = pickle.dumps(_Payload(folder / MARKER))
    return _zip(folder / "pickle.attnscope-session", {**_members(valid), "manifest.json": payload})


def not_a_zip(folder, valid):
    path = folder / "text.attnscope-session"
    path.write_text("just text", encoding="utf-8")
    return path


def wrong_hash(folder, valid):
    members = _members(valid)
    manifest = json.loads(members["manifest.json"])
    manifest["checkpoint"]["sha256"] = "0" * 64
    return _zip(
        folder / "hash.attnscope-session",
        {**members, "manifest.json": json.dumps(manifest).encode()},
    )


HOSTILE = {
    f.__name__: f
    for f in (
        zip_slip,
        huge_manifest,
        zip_bomb,
        missing_manifest,
        bad_json,
        deep_nesting,
        pickled_manifest,
        not_a_zip,
        wrong_hash,
    )
}
EXPECTED = {
    "zip_slip": "points outside the archive",
    "huge_manifest": "over the",
    "zip_bomb": "over the",
    "missing_manifest": "'manifest.json' is missing",
    "bad_json": "not valid JSON",
    "deep_nesting": "nests 50000 levels deep",
    "pickled_manifest": "not UTF-8",
    "not_a_zip": "not a zip archive",
    "wrong_hash": "is not the checkpoint this session was made with",
}


@pytest.fixture(scope="module")
def valid_session(tiny_translation_checkpoint, tmp_path_factory):
    return _valid(tmp_path_factory.mktemp("valid-session"), tiny_translation_checkpoint)


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_session_file_gives_a_message_and_the_app_still_translates(
    qtbot, window, tiny_translation_checkpoint, valid_session, tmp_path, kind
):
    load(qtbot, window, tiny_translation_checkpoint)
    bad = HOSTILE[kind](tmp_path, valid_session)
    _drop(window, bad)
    qtbot.waitUntil(lambda: EXPECTED[kind] in window.message_bar.text(), timeout=TIMEOUT)
    assert bad.name in window.message_bar.text() or kind == "wrong_hash"
    assert not (tmp_path / MARKER).exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    assert window.state.summary.path == str(tiny_translation_checkpoint)
    window.translate_view.set_source(SOURCE)
    snapshot = wait_snapshot(qtbot, window, window.step, lambda s: len(s.steps) == 1)
    assert snapshot.target_pieces
