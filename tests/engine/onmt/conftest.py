"""Shared fixtures: the committed OpenNMT-py models imported once per test session."""

from __future__ import annotations

import pytest

from attnscope.engine.inference import load_inference_model
from attnscope.engine.onmt.convert import convert_onmt

from .onmt_fixtures import FIXTURES


@pytest.fixture(scope="session")
def imported(tmp_path_factory):
    """name -> the InferenceModel of that fixture model, converted to .safetensors once."""
    folder = tmp_path_factory.mktemp("onmt")
    cache = {}

    def get(name: str):
        if name not in cache:
            out = convert_onmt(FIXTURES / name / "model.pt", folder / f"{name}.safetensors")
            cache[name] = load_inference_model(out, device="cpu")
        return cache[name]

    return get
