"""Fixtures of the compare tests: tiny translators (two tokenizers), a captioner, a run."""

from __future__ import annotations

import pytest
from compare_support import make_captioner, make_translator, reverse_run_settings


@pytest.fixture(scope="session")
def translators(tmp_path_factory):
    """Paths of tiny de->en models: additive, multi-head (same tokenizers as additive),
    and additive with other (unigram) tokenizers."""
    folder = tmp_path_factory.mktemp("compare-models")
    return {
        "additive": make_translator(folder / "additive.safetensors"),
        "multihead": make_translator(
            folder / "multihead.safetensors", attention="multihead", heads=2, seed=1
        ),
        "other_tokens": make_translator(
            folder / "unigram.safetensors", vocab=48, model_type="unigram", seed=2
        ),
    }


@pytest.fixture(scope="session")
def captioner(tmp_path_factory):
    return make_captioner(tmp_path_factory.mktemp("compare-captioner") / "cap.safetensors")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A 3-epoch tiny run with the default run.keep_epochs: its folder."""
    from attnscope.engine.training.config import TrainConfig
    from attnscope.engine.training.run import train

    folder = tmp_path_factory.mktemp("compare-run")
    settings = reverse_run_settings(folder, epochs=3)  # the default keeps every epoch
    train(TrainConfig.from_dict(settings))
    return folder / "run"
