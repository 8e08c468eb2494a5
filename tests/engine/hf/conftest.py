"""One tiny random Marian folder per test session, opened through the app's loader."""

from __future__ import annotations

import pytest

from attnscope.engine.hf.loading import load_hf_folder

from .tiny_models import save_tiny_marian


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory):
    return save_tiny_marian(tmp_path_factory.mktemp("marian"), seed=3, eos_bias=2.0)


@pytest.fixture(scope="session")
def marian(marian_dir):
    return load_hf_folder(marian_dir)
