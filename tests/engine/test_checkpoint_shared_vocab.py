"""A joint vocabulary is stored once and loads for both sides."""

import json
import struct

import torch

from attnscope.engine.checkpoint import load_checkpoint, save_checkpoint
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import ModelConfig, TextEncoderConfig
from attnscope.models.registry import build_model

LINES = ["ein hund läuft", "a dog runs", "zwei katzen schlafen", "two cats sleep"] * 10


def test_shared_tokenizer_is_written_once(tmp_path):
    tokenizer = TextTokenizer.train(LINES, vocab_size=40)
    config = ModelConfig(
        src_vocab=tokenizer.vocab_size,
        tgt_vocab=tokenizer.vocab_size,
        embed_dim=8,
        share_embeddings=True,
        text_encoder=TextEncoderConfig(hidden=8),
    )
    model = build_model(config)
    path = save_checkpoint(
        tmp_path / "joint.safetensors",
        model=model,
        src_tokenizer=tokenizer,
        tgt_tokenizer=tokenizer,
    )
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    assert header["__metadata__"]["src_tokenizer"] == "same-as-target"
    loaded = load_checkpoint(path)
    assert loaded.src_tokenizer.to_bytes() == tokenizer.to_bytes()
    assert loaded.src_tokenizer.encode("ein hund") == tokenizer.encode("ein hund")
    src = torch.tensor([tokenizer.encode("ein hund") + [3]])
    with torch.no_grad():
        a = model.eval()(src, torch.tensor([src.size(1)]), torch.tensor([[2, 5]]))[0]
        b = loaded.model(src, torch.tensor([src.size(1)]), torch.tensor([[2, 5]]))[0]
    torch.testing.assert_close(a, b)
