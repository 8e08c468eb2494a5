"""Tiny random Hugging Face models saved with save_pretrained, built inside the tests.

Nothing is downloaded: the config is written here, the weights are random (seeded) and
the tokenizer is a word-level ``tokenizers`` model over a fixed word list with the
family's special ids, saved as tokenizer.json (what ``AutoTokenizer`` reads back
offline). The weights are redrawn with std 0.2 so that the outputs depend on the input
(with the library's initialisation every input decodes to the same tokens), and
``eos_bias`` on eos's logit makes them end within a few steps.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sentencepiece as spm
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
    PreTrainedTokenizerFast,
    T5Config,
    T5ForConditionalGeneration,
)

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

# Each family's special tokens and their ids (Marian: pad = decoder start = the last id;
# BART: decoder start = eos, and <s> is a token of its own).
SPECIALS = {
    "marian": {"</s>": 0, "<unk>": 1},
    "bart": {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3},
    "t5": {"<pad>": 0, "</s>": 1, "<unk>": 2},
}


def word_tokenizer(family: str) -> PreTrainedTokenizerFast:
    """The family's special ids, then WORDS; eos appended to each input."""
    vocab = dict(SPECIALS[family])
    vocab |= {word: len(vocab) + i for i, word in enumerate(WORDS)}
    vocab.setdefault("<pad>", len(vocab))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", pad_token="<pad>", eos_token="</s>"
    )


def train_sentencepiece(workdir: Path, *, eos_id: int, unk_id: int) -> spm.SentencePieceProcessor:
    """A unigram sentencepiece model of about 40 pieces trained on the test sentences
    (``eos_id`` -1: none), saved as ``workdir/sp.model`` for the tokenizers that read it."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([*SENTENCES, " ".join(WORDS)]),
        model_writer=model,
        vocab_size=40,
        model_type="unigram",
        hard_vocab_limit=False,
        bos_id=-1,
        eos_id=eos_id,
        unk_id=unk_id,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    (workdir / "sp.model").write_bytes(model.getvalue())
    return spm.SentencePieceProcessor(model_file=str(workdir / "sp.model"))


def marian_spm_tokenizer(workdir: Path) -> MarianTokenizer:
    """Marian's own tokenizer, as opus-mt folders hold it (source.spm, target.spm,
    vocab.json), over a unigram sentencepiece model trained here on the test sentences:
    eos 0, unk 1, the pieces, pad last."""
    pieces = train_sentencepiece(workdir, eos_id=0, unk_id=1)
    vocab = {"</s>": 0, "<unk>": 1}
    for i in range(pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    (workdir / "vocab.json").write_text(json.dumps(vocab))
    spm_file = str(workdir / "sp.model")
    return MarianTokenizer(spm_file, spm_file, str(workdir / "vocab.json"))


# The sizes of every tiny BART-style model (Marian, BART, mBART, M2M100; tiny_multilingual)
BART_SHAPE = {
    "d_model": 16,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
    "max_position_embeddings": 64,
    "forced_eos_token_id": None,
}


def redraw_weights(model: Any) -> None:
    """Every parameter but the layer norms' scales redrawn from N(0, 0.2²), under no_grad
    (the caller seeds torch)."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not name.endswith(("layer_norm.weight", "layernorm_embedding.weight")):
                parameter.normal_(0.0, 0.2)


def _model(family: str, size: int):
    if family == "t5":
        config = T5Config(
            vocab_size=size,
            d_model=16,
            d_kv=8,
            d_ff=32,
            num_layers=2,
            num_decoder_layers=2,
            num_heads=2,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
        return T5ForConditionalGeneration(config)
    shape = {"vocab_size": size, **BART_SHAPE}
    if family == "marian":
        ids = {"pad_token_id": size - 1, "eos_token_id": 0, "decoder_start_token_id": size - 1}
        return MarianMTModel(MarianConfig(**shape, **ids))
    ids = {"bos_token_id": 0, "pad_token_id": 1, "eos_token_id": 2, "decoder_start_token_id": 2}
    return BartForConditionalGeneration(BartConfig(**shape, **ids, forced_bos_token_id=None))


def save_tiny_model(
    folder: Path,
    family: str = "marian",
    *,
    seed: int = 0,
    eos_bias: float = 0.0,
    tokenizer: Any = None,
) -> Path:
    """A 2+2-layer, 2-head, d_model 16 model of ``family`` with its tokenizer, in ``folder``.

    eos_bias:  added to eos's logit (final_logits_bias), so outputs end within a few steps
    tokenizer: the family's special ids with pad last when given; default word_tokenizer
    """
    tokenizer = tokenizer or word_tokenizer(family)
    torch.manual_seed(seed)
    model = _model(family, len(tokenizer)).eval()
    redraw_weights(model)
    if hasattr(model, "final_logits_bias"):  # T5 has none
        with torch.no_grad():
            model.final_logits_bias[0, model.config.eos_token_id] = eos_bias
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def edited_copy(source: Path, target: Path, file: str, edit: Callable[[dict], Any]) -> Path:
    """A copy of folder ``source`` in ``target`` (symbolic links to its files) whose JSON
    ``file`` is ``source``'s passed through ``edit`` (which changes it in place)."""
    target.mkdir()
    for path in source.iterdir():
        if path.name != file:
            (target / path.name).symlink_to(path)
    settings = json.loads((source / file).read_text())
    edit(settings)
    (target / file).write_text(json.dumps(settings))
    return target


def bare_folder(
    tmp_path: Path, config: dict | None = None, *, weights: str | None = "model.safetensors"
) -> Path:
    """``tmp_path/model`` holding only ``config`` as config.json (when given) and an empty
    ``weights`` file (when named): enough for the checks that refuse a folder early."""
    folder = tmp_path / "model"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if weights is not None:
        (folder / weights).write_bytes(b"")
    return folder
