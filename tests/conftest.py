"""Suite-wide set-up: headless Qt, row-major pyqtgraph, deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import torch

# One intra-op thread: the GUI tests run a worker thread beside the GUI thread, and
# OpenMP spinning on a loaded 2-core machine makes tiny ops take milliseconds.
torch.set_num_threads(1)
# ... and the decoding commands (engine/cpu_threads.py), run in-process or as subprocesses, too.
os.environ.setdefault("ATTNSCOPE_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    try:
        import pyqtgraph
    except ImportError:  # pragma: no cover - the test extra always has it
        return
    pyqtgraph.setConfigOptions(imageAxisOrder="row-major")


TINY_CORPUS_DE = [
    "ein mann fährt fahrrad .",
    "zwei hunde spielen im schnee .",
    "eine frau liest ein buch im park .",
    "kinder spielen fußball auf der straße .",
    "ein kleiner junge isst einen apfel .",
    "der hund läuft über die wiese .",
]
TINY_CORPUS_EN = [
    "a man rides a bike .",
    "two dogs play in the snow .",
    "a woman reads a book in the park .",
    "children play soccer on the street .",
    "a little boy eats an apple .",
    "the dog runs across the meadow .",
]


def make_tiny_translation_checkpoint(path, *, attention="additive", heads=1):
    """A tiny random-weight de->en checkpoint with real sentencepiece tokenizers."""
    from attnscope.engine.checkpoint import save_checkpoint
    from attnscope.engine.tokenizers import TextTokenizer
    from attnscope.models.config import (
        AttentionConfig,
        DecoderConfig,
        ModelConfig,
        TextEncoderConfig,
    )
    from attnscope.models.registry import build_model

    src_tok = TextTokenizer.train(TINY_CORPUS_DE * 20, vocab_size=60, model_type="bpe")
    tgt_tok = TextTokenizer.train(TINY_CORPUS_EN * 20, vocab_size=60, model_type="bpe")
    config = ModelConfig(
        src_vocab=src_tok.vocab_size,
        tgt_vocab=tgt_tok.vocab_size,
        embed_dim=16,
        text_encoder=TextEncoderConfig(hidden=16, dropout=0.0),
        attention=AttentionConfig(kind=attention, heads=heads),
        decoder=DecoderConfig(hidden=32, dropout=0.0),
    )
    torch.manual_seed(0)
    model = build_model(config)
    save_checkpoint(
        path,
        model=model,
        src_tokenizer=src_tok,
        tgt_tokenizer=tgt_tok,
        info={"examples": TINY_CORPUS_DE[:3], "note": "tiny random test model"},
    )
    return path


@pytest.fixture(scope="session")
def tiny_translation_checkpoint(tmp_path_factory):
    return make_tiny_translation_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_multihead_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "tiny-mh.safetensors"
    return make_tiny_translation_checkpoint(path, attention="multihead", heads=4)


@pytest.fixture(scope="session")
def tiny_plain_checkpoint(tmp_path_factory):
    """A tiny translation model without attention (the decoder reads the encoder summary)."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny-plain.safetensors"
    return make_tiny_translation_checkpoint(path, attention="none")
