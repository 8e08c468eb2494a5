"""Tiny random multilingual folders (mBART-50, mBART-cc25, M2M100, NLLB) built in the tests.

Each uses its family's real tokenizer class, built offline from a vocabulary made here:
mBART-50 and mBART-cc25 from a unigram piece list over WORDS (both add their 52 / 25
fairseq language codes themselves), NLLB from a character-level BPE vocabulary with
three language codes as its extra special tokens, M2M100 from a sentencepiece model
trained here on the test sentences with the 8 ``wmt21`` codes. The model's vocabulary
covers every id the tokenizer makes (M2M100's codes come after its vocab.json).
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import torch
from transformers import (
    M2M100Config,
    M2M100ForConditionalGeneration,
    M2M100Tokenizer,
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
    MBartTokenizer,
    NllbTokenizer,
)

from .tiny_models import BART_SHAPE, WORDS, redraw_weights, train_sentencepiece

FAIRSEQ_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
NLLB_CODES = ["eng_Latn", "fra_Latn", "deu_Latn"]


def _pieces() -> list[tuple[str, float]]:
    """A unigram vocabulary: the fairseq specials, then one piece per word of WORDS."""
    return (
        [(token, 0.0) for token in FAIRSEQ_SPECIALS]
        + [("▁" + word, -1.0) for word in WORDS]
        + [("▁", -2.0)]
    )


def _nllb_tokenizer() -> NllbTokenizer:
    vocab = dict(FAIRSEQ_SPECIALS)
    for char in "▁" + string.ascii_lowercase:
        vocab[char] = len(vocab)
    return NllbTokenizer(
        vocab=vocab,
        merges=[],
        extra_special_tokens=NLLB_CODES,
        src_lang="eng_Latn",
        tgt_lang="fra_Latn",
    )


def _m2m100_tokenizer(workdir: Path) -> M2M100Tokenizer:
    pieces = train_sentencepiece(workdir, eos_id=-1, unk_id=0)
    vocab = dict(FAIRSEQ_SPECIALS)
    for i in range(pieces.get_piece_size()):
        vocab.setdefault(pieces.id_to_piece(i), len(vocab))
    (workdir / "vocab.json").write_text(json.dumps(vocab))
    return M2M100Tokenizer(
        str(workdir / "vocab.json"), str(workdir / "sp.model"), language_codes="wmt21"
    )


def tiny_tokenizer(family: str, workdir: Path) -> Any:
    """The real tokenizer class of ``family``: mbart50, mbart_cc25, m2m100 or nllb."""
    if family == "mbart50":
        return MBart50Tokenizer(vocab=_pieces(), src_lang="en_XX")
    if family == "mbart_cc25":
        return MBartTokenizer(vocab=_pieces(), src_lang="en_XX")
    if family == "nllb":
        return _nllb_tokenizer()
    return _m2m100_tokenizer(workdir)


def _vocab_size(tokenizer: Any) -> int:
    """Every id the tokenizer can make, language codes (and <mask>) included."""
    ids = list(tokenizer.get_vocab().values())
    ids += list(getattr(tokenizer, "lang_code_to_id", {}).values())
    return max(ids) + 1


def save_tiny_multilingual(
    folder: Path,
    family: str,
    *,
    seed: int = 0,
    eos_bias: float = 0.0,
    start: str | None = None,
    forced: str | None = None,
) -> Path:
    """A 2+2-layer, 2-head, d_model 16 model of ``family`` with its tokenizer, in ``folder``.

    eos_bias: added to eos's logit (final_logits_bias: mBART) or its output row's bias
              (M2M100 has none: its eos embedding row is scaled instead)
    start:    mBART-cc25: the language code the decoder starts with (config)
    forced:   the language code generation_config.json forces as the first token
    """
    workdir = folder / "build"
    workdir.mkdir(parents=True)
    tokenizer = tiny_tokenizer(family, workdir)
    shape = {
        "vocab_size": _vocab_size(tokenizer),
        **BART_SHAPE,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 2,
    }
    torch.manual_seed(seed)
    if family.startswith("mbart"):
        if start is not None:
            shape["decoder_start_token_id"] = tokenizer.convert_tokens_to_ids(start)
        model = MBartForConditionalGeneration(MBartConfig(**shape)).eval()
    else:
        model = M2M100ForConditionalGeneration(M2M100Config(**shape)).eval()
    redraw_weights(model)
    with torch.no_grad():
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias[0, 2] = eos_bias
        else:  # tied output embedding: a longer eos row raises eos's logit
            model.get_output_embeddings().weight[2] *= 1.0 + eos_bias
    if forced is not None:
        model.generation_config.forced_bos_token_id = tokenizer.convert_tokens_to_ids(forced)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
