"""Tiny random model folders, built once per test session and opened through the app's
loader: ``marian`` for the folder tests, ``loaded`` once per family for the decode tests."""

from __future__ import annotations

import pytest

from attnscope.engine.hf.loading import load_hf_folder

from .tiny_models import save_tiny_model

# Seeds and eos biases whose greedy and beam outputs end at different lengths, some
# with eos and some at the length limit (searched once; random tiny models often
# repeat one token forever or stop at once).
FAMILIES = {
    "marian": {"seed": 3, "eos_bias": 2.0},
    "bart": {"seed": 3, "eos_bias": 1.0},
    "t5": {"seed": 6},  # T5 has no logits bias
}


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("marian"), "marian", **FAMILIES["marian"])


@pytest.fixture(scope="session")
def marian(marian_dir):
    return load_hf_folder(marian_dir)


@pytest.fixture(scope="session", params=list(FAMILIES))
def loaded(request, tmp_path_factory, marian):
    """Each family's tiny model, loaded."""
    if request.param == "marian":
        return marian
    folder = tmp_path_factory.mktemp(request.param)
    return load_hf_folder(save_tiny_model(folder, request.param, **FAMILIES[request.param]))
