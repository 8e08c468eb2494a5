"""A multilingual folder's language pair travels with a saved decode: the session file and
its decode record name it, the replay chooses it again before decoding, and a hostile
file's pair gets one message."""

from __future__ import annotations

import pytest
from session_file_support import manifest_of, rewrite

from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.errors import AttnScopeError, SessionFileError
from attnscope.engine.hf.inference import load_hf_inference_model
from attnscope.engine.session_file import (
    SessionInput,
    read_session_file,
    session_from_snapshot,
    write_session_file,
)
from attnscope.engine.session_replay import ReplayPlan, check_replay, replay_decode

from .tiny_multilingual import save_tiny_multilingual

SOURCE = "the cat sat"
CONFIG = DecodeConfig(max_length=8, max_length_ratio=0, strategy="greedy")
PAIR = ("fra_Latn", "deu_Latn")  # not the folder's default (eng_Latn -> fra_Latn)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_tiny_multilingual(tmp_path_factory.mktemp("nllb"), "nllb", seed=7, eos_bias=1.0)


@pytest.fixture(scope="module")
def saved(folder, tmp_path_factory):
    """A decode on PAIR written to a session file."""
    from attnscope.engine.session_replay import checkpoint_ref

    model = load_hf_inference_model(folder)
    model.set_languages(source=PAIR[0], target=PAIR[1])
    opened = model.open_session(SOURCE, CONFIG)
    opened.run()
    snapshot = opened.snapshot()
    pair = model.languages()
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=checkpoint_ref(folder),
        settings=CONFIG,
        source=SessionInput(text=SOURCE),
        languages=(pair.source, pair.target),
    )
    return write_session_file(tmp_path_factory.mktemp("saved") / "a.attnscope-session", session)


def test_the_pair_is_stored_and_replayed_before_decoding(folder, saved):
    manifest = manifest_of(saved)
    assert manifest["languages"] == {"source": PAIR[0], "target": PAIR[1]}
    assert manifest["record"]["settings"]["languages"] == manifest["languages"]
    session = read_session_file(saved)
    assert session.languages == PAIR
    model = load_hf_inference_model(folder)  # opens on its default pair
    assert (model.languages().source, model.languages().target) != PAIR
    plan = ReplayPlan(steps=session.decode.steps_taken, languages=session.languages)
    replayed = replay_decode(model, session.source.text, session.settings, plan)
    assert (model.languages().source, model.languages().target) == PAIR
    assert check_replay(session.decode, replayed.snapshot()).matches


def test_without_the_pair_the_replay_differs(folder, saved):
    """The pair matters: the default pair's decode is not the stored one."""
    session = read_session_file(saved)
    model = load_hf_inference_model(folder)
    plan = ReplayPlan(steps=session.decode.steps_taken)
    replayed = replay_decode(model, session.source.text, session.settings, plan)
    assert not check_replay(session.decode, replayed.snapshot()).matches


@pytest.mark.parametrize(
    "languages",
    [
        "fra_Latn",
        {"source": "fra_Latn"},
        {"source": "fra_Latn", "target": "deu_Latn", "extra": "x"},
        {"source": "fra_Latn", "target": 7},
        {"source": "fra_Latn", "target": "x" * 33},
        {"source": "fra_Latn", "target": "../../etc"},
    ],
)
def test_a_malformed_pair_is_refused_on_read(saved, tmp_path, languages):
    manifest = manifest_of(saved) | {"languages": languages}
    bad = rewrite(saved, tmp_path / "bad.attnscope-session", manifest=manifest)
    with pytest.raises(SessionFileError, match="languages"):
        read_session_file(bad)


def test_an_unknown_code_gets_one_message_on_replay(folder, saved, tmp_path):
    manifest = manifest_of(saved) | {"languages": {"source": "fra_Latn", "target": "xxx_Yyyy"}}
    bad = rewrite(saved, tmp_path / "bad.attnscope-session", manifest=manifest)
    session = read_session_file(bad)
    model = load_hf_inference_model(folder)
    before = model.languages()
    plan = ReplayPlan(steps=session.decode.steps_taken, languages=session.languages)
    with pytest.raises(AttnScopeError, match="unknown target language 'xxx_Yyyy'"):
        replay_decode(model, session.source.text, session.settings, plan)
    assert model.languages() == before  # nothing changed: the model still works
    assert model.open_session(SOURCE, CONFIG) is not None


def test_a_pair_for_a_model_without_languages_gets_one_message(marian_dir):
    model = load_hf_inference_model(marian_dir)
    plan = ReplayPlan(steps=1, languages=PAIR)
    with pytest.raises(AttnScopeError, match="offers no choice of language"):
        replay_decode(model, SOURCE, CONFIG, plan)
