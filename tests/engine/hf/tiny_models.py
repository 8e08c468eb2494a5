"""Tiny random Hugging Face models saved with save_pretrained, built inside the tests.

Nothing is downloaded: the config is written here, the weights are random (seeded) and
the tokenizer is a word-level ``tokenizers`` model over a fixed word list, saved as
tokenizer.json (what ``AutoTokenizer`` reads back offline). The weights are redrawn
with std 0.2 so that the outputs depend on the input and end at different lengths
(with the library's initialisation every input decodes to the same tokens).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "ran",
    "far",
    "away",
    "big",
    "small",
    "red",
    "blue",
    "green",
    "house",
    "tree",
    "bird",
]
SENTENCES = ["the cat sat on the mat", "a dog ran far away", "big red house", "bird"]


def word_tokenizer() -> PreTrainedTokenizerFast:
    """Marian's special ids: eos 0, unk 1, pad the last id; eos appended to each input."""
    vocab = {"</s>": 0, "<unk>": 1} | {word: i + 2 for i, word in enumerate(WORDS)}
    vocab["<pad>"] = len(vocab)
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 0)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )


def save_tiny_marian(folder: Path, *, seed: int = 0, eos_bias: float = 0.0) -> Path:
    """A 2+2-layer, 2-head, d_model 16 Marian with its tokenizer, saved in ``folder``.

    eos_bias: added to eos's logit (final_logits_bias), so outputs end within a few steps
    """
    tokenizer = word_tokenizer()
    size = len(tokenizer)
    config = MarianConfig(
        vocab_size=size,
        d_model=16,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=size - 1,
        eos_token_id=0,
        decoder_start_token_id=size - 1,
        forced_eos_token_id=None,
    )
    torch.manual_seed(seed)
    model = MarianMTModel(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not (name.endswith("layer_norm.weight") or name.endswith("_layernorm.weight")):
                parameter.normal_(0.0, 0.2)
        model.final_logits_bias[0, config.eos_token_id] = eos_bias
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
