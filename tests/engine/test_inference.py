"""The engine bridge: bad text, batch = session, file translation never half-written."""

import threading

import numpy as np
import pytest

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.errors import DecodeCancelled, InputTextError
from attnscope.engine.inference import MAX_SOURCE_TOKENS, load_inference_model


@pytest.fixture(scope="module")
def model(tiny_translation_checkpoint):
    return load_inference_model(tiny_translation_checkpoint, device="cpu")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_refused_clearly(model, text):
    with pytest.raises(InputTextError, match="empty"):
        model.open_session(text, DecodeConfig())


def test_huge_text_is_refused_not_truncated(model):
    text = "ein mann " * (MAX_SOURCE_TOKENS * 2)
    with pytest.raises(InputTextError, match="tokens long"):
        model.translate([text], DecodeConfig())


def test_unknown_characters_still_translate(model):
    (result,) = model.translate(["ein 🚲 mann ☃ fährt"], DecodeConfig(max_length=5))
    assert result.attention.shape[-1] == len(result.source_pieces)
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-5)


def test_summary_is_plain_data(model):
    summary = model.summary()
    assert summary.task == "translation" and summary.parameters > 0
    assert summary.piece_to_id(summary.target_vocab[10]) == 10
    assert summary.piece_to_id("definitely-not-a-piece") is None


def test_session_snapshot_matches_batch_translation(model):
    config = DecodeConfig(strategy="beam", beam_size=3, max_length=8)
    opened = model.open_session("zwei hunde spielen im schnee .", config)
    while not opened.done:
        opened.step()
    snapshot = opened.snapshot()
    (batch,) = model.translate(["zwei hunde spielen im schnee ."], config)
    assert snapshot.target_pieces == batch.pieces
    np.testing.assert_allclose(snapshot.attention, batch.attention, atol=1e-6)
    assert snapshot.tree is not None and snapshot.node_attention.shape[0] == len(snapshot.tree)


def test_translate_file_keeps_lines_and_renames_at_the_end(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("ein mann .\n\nzwei hunde .\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    seen = []
    done = model.translate_file(
        str(source), str(out), DecodeConfig(max_length=5), progress=lambda d, t: seen.append((d, t))
    )
    assert done and out.exists() and not (tmp_path / "out.txt.partial").exists()
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 4 and lines[1] == ""
    assert seen[-1] == (3, 3)


def test_cancelled_file_translation_is_clearly_partial(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("ein mann .\n" * 10, encoding="utf-8")
    out = tmp_path / "out.txt"
    cancel = threading.Event()
    done = model.translate_file(
        str(source),
        str(out),
        DecodeConfig(max_length=4),
        cancel=cancel,
        batch_size=2,
        window=2,  # each window of 2 lines is written once done
        progress=lambda d, t: cancel.set(),
    )
    assert not done
    assert not out.exists()  # never a silently truncated output
    partial = (tmp_path / "out.txt.partial").read_text(encoding="utf-8").splitlines()
    assert len(partial) == 2


def test_cancel_reaches_the_decode_loop_and_the_file_stays_partial(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("ein mann fährt fahrrad .\n" * 4, encoding="utf-8")
    out = tmp_path / "out.txt"
    cancel = threading.Event()
    cancel.set()  # already cancelled: the first decode step must notice
    assert not model.translate_file(str(source), str(out), DecodeConfig(), cancel=cancel)
    assert not out.exists()
    assert (tmp_path / "out.txt.partial").read_text(encoding="utf-8") == ""
    with pytest.raises(DecodeCancelled):  # the decode loop itself checks between steps
        model.translate(["ein mann ."], DecodeConfig(), cancel=cancel)


def test_a_checkpoint_cannot_ask_for_giant_model_inputs():
    from attnscope.engine.images import ImagePreprocess

    with pytest.raises(ValueError, match="larger than"):
        ImagePreprocess(size=(60000, 60000))
