"""A Hugging Face folder on the command line (-c DIR), in session files, and refused when bad."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from attnscope.engine.cli import main
from attnscope.engine.decoding.config import DecodeConfig
from attnscope.engine.errors import AttnScopeError
from attnscope.engine.folder_digest import folder_size
from attnscope.engine.hf.folder import HfFolderError
from attnscope.engine.inference import load_inference_model
from attnscope.engine.session_file import (
    SessionInput,
    read_session_file,
    session_from_snapshot,
    write_session_file,
)
from attnscope.engine.session_replay import (
    ReplayPlan,
    check_replay,
    checkpoint_ref,
    replay_decode,
    verify_checkpoint,
)

from .tiny_models import SENTENCES, bare_folder

ENCODER_DECODER = {"model_type": "marian", "is_encoder_decoder": True}


@pytest.fixture(scope="module")
def model(marian_dir):
    return load_inference_model(marian_dir, device="cpu")


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    path = tmp_path_factory.mktemp("lines") / "src.txt"
    path.write_text("\n".join(SENTENCES[:2]) + "\n")
    return path


def _run(capsys, *argv) -> list[str]:
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def test_translate_writes_what_the_model_translates(model, marian_dir, sources, capsys):
    lines = _run(capsys, "translate", "-c", marian_dir, "--device", "cpu", "-i", sources)
    config = DecodeConfig(max_length_ratio=2.0)
    assert lines == [t.text for t in model.translate(SENTENCES[:2], config)]


def test_translate_align_and_json_with_beam(model, marian_dir, sources, capsys):
    common = ("translate", "-c", marian_dir, "--device", "cpu", "-i", sources)
    aligned = _run(capsys, *common, "--align")
    assert all(" ||| " in line for line in aligned)
    records = [json.loads(line) for line in _run(capsys, *common, "--json", "--beam", "2")]
    for sentence, record in zip(SENTENCES, records, strict=False):
        assert record["model"] == str(marian_dir)
        assert record["source_pieces"] == list(model.source_pieces(sentence))
        attention = np.asarray(record["attention"])  # one row per piece, every layer and head
        assert attention.reshape(len(record["pieces"]), -1).shape[1] == (
            model.model.num_heads * len(record["source_pieces"])
        )


def test_translate_keeps_stderr_free_of_transformers_bars(marian_dir, sources, capsys, caplog):
    """transformers' "Loading weights" tqdm bar and its warnings stay off stderr (logs,
    pipes); the app's own INFO line says what is being loaded, and the settings return."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    with caplog.at_level(logging.INFO, logger="attnscope.engine.hf.loading"):
        code = main(["translate", "-c", str(marian_dir), "--device", "cpu", "-i", str(sources)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Loading weights" not in err and "%|" not in err, err
    assert any(m.startswith(f"loading {marian_dir} (") for m in caplog.messages), caplog.messages
    assert (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()) == before


def test_score_json_forces_each_reference(model, marian_dir, sources, tmp_path, capsys):
    references = tmp_path / "ref.txt"
    references.write_text("the cat sat\na dog\n")
    argv = ("score", "-c", marian_dir, "--device", "cpu", "--src", sources, "--ref", references)
    rows = [json.loads(line) for line in _run(capsys, *argv, "--json")]
    assert [row["tokens"][-1] for row in rows] == ["</s>", "</s>"]
    assert rows[0]["tokens"][:-1] == [model.piece(i) for i in model.target_ids("the cat sat")]


def test_a_session_file_reopens_with_its_folder(model, marian_dir, tmp_path):
    config = DecodeConfig(strategy="beam", beam_size=2, max_length=8, min_length=4)
    opened = model.open_session(SENTENCES[0], config)
    opened.run(until=2)
    opened.force(4, at_step=2)
    opened.run()
    snapshot = opened.snapshot()
    heard = []  # (bytes done, bytes in all) over the folder's model files
    reference = checkpoint_ref(model.source_path, lambda done, total: heard.append((done, total)))
    assert heard[-1] == (reference.size, reference.size) == (folder_size(marian_dir),) * 2
    session = session_from_snapshot(
        snapshot,
        task="translation",
        checkpoint=reference,
        settings=config,
        source=SessionInput(text=SENTENCES[0]),
    )
    stored = read_session_file(write_session_file(tmp_path / "s.attnscope-session", session))
    assert stored.checkpoint.path == str(marian_dir)
    verify_checkpoint(stored.checkpoint, stored.checkpoint.path)
    reopened = load_inference_model(stored.checkpoint.path, device="cpu")
    plan = ReplayPlan(steps=stored.decode.steps_taken, interventions=stored.interventions)
    replayed = replay_decode(reopened, stored.source.text, stored.settings, plan)
    check = check_replay(stored.decode, replayed.snapshot())
    assert check.matches and check.attention_identical, check.message
    copy = shutil.copytree(marian_dir, tmp_path / "copy")
    (copy / "README.md").write_text("a model card changes nothing")
    verify_checkpoint(stored.checkpoint, copy)
    config_file = copy / "config.json"
    config_file.write_text(config_file.read_text().replace('"d_model": 16', '"d_model":16 '))
    with pytest.raises(AttnScopeError, match="not the model folder this session was made with"):
        verify_checkpoint(stored.checkpoint, copy)
    with pytest.raises(AttnScopeError, match="does not exist"):
        verify_checkpoint(stored.checkpoint, tmp_path / "gone")


BAD_FOLDERS = {
    "missing config": (lambda tmp: bare_folder(tmp, None), "has no config.json"),
    "missing weights": (
        lambda tmp: bare_folder(
            tmp, ENCODER_DECODER | {"architectures": ["MarianMTModel"]}, weights=None
        ),
        "has no weights",
    ),
    "unknown architecture": (
        lambda tmp: bare_folder(
            tmp, ENCODER_DECODER | {"architectures": ["FSMTForConditionalGeneration"]}
        ),
        "unknown architecture",
    ),
    "hub id": (lambda tmp: "Helsinki-NLP/opus-mt-de-en", "never downloads"),
    "remote code": (
        lambda tmp: bare_folder(
            tmp, ENCODER_DECODER | {"architectures": ["MarianMTModel"], "auto_map": {"A": "x.Y"}}
        ),
        "never runs code",
    ),
    "encoder-only": (
        lambda tmp: bare_folder(tmp, {"architectures": ["BertModel"], "model_type": "bert"}),
        "needs an encoder–decoder",
    ),
    "decoder-only": (
        lambda tmp: bare_folder(tmp, {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}),
        "needs an encoder–decoder",
    ),
    "pickle only": (
        lambda tmp: bare_folder(
            tmp, ENCODER_DECODER | {"architectures": ["MarianMTModel"]}, weights="pytorch_model.bin"
        ),
        "pytorch_model.bin",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_a_bad_folder_gets_one_line_from_the_loader_and_the_cli(
    case, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # the hub id is no folder here
    build, words = BAD_FOLDERS[case]
    path = build(tmp_path)
    with pytest.raises(HfFolderError, match=words):
        load_inference_model(path, device="cpu")
    assert main(["translate", "-c", str(path), "--device", "cpu"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("attnscope: error: ") and words in error
    assert error.count("\n") == 1


def test_evaluate_and_compare_take_folders(marian_dir, sources, tmp_path, capsys):
    references = tmp_path / "ref.txt"
    references.write_text("the cat sat\na dog\n")
    files = ("--src", sources, "--ref", references)
    report = json.loads(
        _run(capsys, "evaluate", "-c", marian_dir, "--device", "cpu", *files, "--json")[-1]
    )
    assert report["count"] == 2 and "bleu" in report
    lines = _run(capsys, "compare", "-c", marian_dir, "-c", marian_dir, "--device", "cpu", *files)
    assert lines  # the same folder twice: a pair that compares


@pytest.mark.filterwarnings("ignore:Recommended. pip install sacremoses")
def test_the_tokenizers_languages_are_the_models(tmp_path, model):
    """opus-mt tokenizers name source_lang and target_lang: compare checks them."""
    from transformers import MarianTokenizer

    from attnscope.engine.compare.compatibility import IncompatibleModelsError, compatible

    from .tiny_models import marian_spm_tokenizer, save_tiny_model

    marian_spm_tokenizer(tmp_path)  # sp.model and vocab.json
    spm, vocab = str(tmp_path / "sp.model"), str(tmp_path / "vocab.json")
    models = {}
    for source in ("de", "fr"):
        tokenizer = MarianTokenizer(spm, spm, vocab, source_lang=source, target_lang="en")
        folder = save_tiny_model(tmp_path / source, "marian", seed=3, tokenizer=tokenizer)
        models[source] = load_inference_model(folder, device="cpu")
    assert models["de"].summary().info["source_language"] == "de"
    assert models["de"].info["target_language"] == "en"
    compatible(models["de"], model)  # a folder that names no language is not held against
    with pytest.raises(IncompatibleModelsError, match="German as its source language"):
        compatible(models["de"], models["fr"])


def test_a_folders_weights_file_alone_points_to_the_folder(marian_dir, capsys):
    with pytest.raises(AttnScopeError, match="part of a Hugging Face model folder: open the"):
        load_inference_model(marian_dir / "model.safetensors", device="cpu")
    for argv in (["translate", "-c"], ["info"]):
        assert main([*argv, str(marian_dir / "model.safetensors")]) == 2
        assert f"open the folder {marian_dir} instead" in capsys.readouterr().err


def test_int8_is_refused_for_a_folder(marian_dir, sources, capsys):
    argv = ["translate", "-c", str(marian_dir), "--device", "cpu", "--int8", "-i", str(sources)]
    assert main(argv) == 2
    assert "int8 weights are for AttnScope's own checkpoints" in capsys.readouterr().err
