"""Tiny random Hugging Face captioners saved with save_pretrained, built inside the tests.

VisionEncoderDecoder folders (a ViT, DeiT or Swin encoder with a GPT-2, BERT or TrOCR
decoder: ENCODERS, DECODERS) and BLIP folders, each with its image processor (32 × 32
pictures, 8-pixel patches: a 4 × 4 grid; Swin: 4-pixel patches merged once, also 4 × 4)
and a word-level tokenizer over tiny_models.WORDS. Nothing is downloaded; the weights
are random (seeded) and redrawn with std 0.2 as tiny_models does, so the captions
depend on the picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import transformers
from PIL import Image
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from .tiny_models import WORDS

SIDE = 32  # pixels a side of the model input
# ViT is wider than the decoders (24 vs 16): its output goes through the model's
# enc_to_dec_proj
ENCODERS = {
    "vit": lambda: transformers.ViTConfig(**_VIT | {"hidden_size": 24}),
    "deit": lambda: transformers.DeiTConfig(**_VIT),
    "swin": lambda: transformers.SwinConfig(
        image_size=SIDE, patch_size=4, embed_dim=8, depths=[1, 1], num_heads=[1, 2], window_size=4
    ),
}
_VIT = {
    "image_size": SIDE,
    "patch_size": 8,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
}
_TEXT = {"num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32}
PROCESSORS = {"vit": "ViTImageProcessor", "deit": "DeiTImageProcessor", "swin": "ViTImageProcessor"}
# BERT-style specials: BLIP's text decoder starts from [DEC] and ends on [SEP]
BERT_SPECIALS = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[DEC]": 4}
GPT2_SPECIALS = {"<|endoftext|>": 0, "<unk>": 1}
# TrOCR's (RoBERTa's): decoding starts from </s> and ends on it
TROCR_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}


# decoder -> (its special tokens, its 2-layer 2-head config for a vocabulary of the given
# size, the ids the captioner's config names: the start token, eos and padding)
DECODERS = {
    "gpt2": (
        GPT2_SPECIALS,
        lambda size: transformers.GPT2Config(
            vocab_size=size,
            n_positions=32,
            n_embd=16,
            n_layer=2,
            n_head=2,
            add_cross_attention=True,
            bos_token_id=0,
            eos_token_id=0,
        ),
        {"decoder_start_token_id": 0, "eos_token_id": 0, "pad_token_id": 0},
    ),
    "trocr": (
        TROCR_SPECIALS,
        lambda size: transformers.TrOCRConfig(
            vocab_size=size,
            d_model=16,
            decoder_layers=2,
            decoder_attention_heads=2,
            decoder_ffn_dim=32,
            max_position_embeddings=32,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
        ),
        {"decoder_start_token_id": 2, "eos_token_id": 2, "pad_token_id": 1},
    ),
    "bert": (
        BERT_SPECIALS,
        lambda size: transformers.BertConfig(
            vocab_size=size,
            hidden_size=16,
            num_hidden_layers=2,
            is_decoder=True,
            add_cross_attention=True,
            pad_token_id=0,
            **_TEXT,
        ),
        {"decoder_start_token_id": 2, "eos_token_id": 3, "pad_token_id": 0},
    ),
}


def word_tokenizer(specials: dict[str, int]) -> PreTrainedTokenizerFast:
    """``specials`` then WORDS; BERT-style tokenizers wrap an input in [CLS] … [SEP]."""
    vocab = dict(specials) | {word: len(specials) + i for i, word in enumerate(WORDS)}
    unk = "[UNK]" if "[UNK]" in vocab else "<unk>"
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    if "<s>" in vocab:
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer,
            unk_token=unk,
            bos_token="<s>",
            eos_token="</s>",
            pad_token="<pad>",
        )
    if "[CLS]" not in vocab:
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, unk_token=unk, eos_token="<|endoftext|>"
        )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token=unk,
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        bos_token="[DEC]",
    )


def _randomise(model, seed: int):
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" not in name.lower() and ".ln_" not in name:
                parameter.normal_(0.0, 0.2)
    return model.eval()


def save_vision_encoder_decoder(
    folder: Path, encoder: str = "vit", decoder: str = "gpt2", *, seed: int = 0
) -> Path:
    """A VisionEncoderDecoderModel folder: ``encoder`` (vit, deit, swin) with a 2-layer,
    2-head ``decoder`` (gpt2, bert, trocr), its image processor and tokenizer."""
    specials, text_config, ids = DECODERS[decoder]
    tokenizer = word_tokenizer(specials)
    text = text_config(len(tokenizer))
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(
        ENCODERS[encoder](), text
    )
    for key, value in ids.items():
        setattr(config, key, value)
    model = _randomise(transformers.VisionEncoderDecoderModel(config=config), seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _processor(PROCESSORS[encoder]).save_pretrained(folder)
    return folder


def save_blip(folder: Path, *, seed: int = 0) -> Path:
    """A BlipForConditionalGeneration folder: a 1-layer ViT-like vision model, a 2-layer
    text decoder starting from [DEC] and ending on [SEP], processor and tokenizer."""
    tokenizer = word_tokenizer(BERT_SPECIALS)
    config = transformers.BlipConfig(
        vision_config={k: v for k, v in _VIT.items()},
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 16,
            "encoder_hidden_size": 16,
            "num_hidden_layers": 2,
            "bos_token_id": 4,
            "sep_token_id": 3,
            "pad_token_id": 0,
            **_TEXT,
        },
    )
    model = _randomise(transformers.BlipForConditionalGeneration(config), seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _processor("BlipImageProcessor").save_pretrained(folder)
    return folder


def _processor(kind: str):
    size = {"height": SIDE, "width": SIDE}
    if kind == "DeiTImageProcessor":  # resize a little larger, then centre-crop
        return transformers.DeiTImageProcessor(
            size={"height": SIDE + 4, "width": SIDE + 4}, crop_size=size
        )
    return getattr(transformers, kind)(size=size)


def pictures(count: int, seed: int = 0) -> list[Image.Image]:
    """``count`` different 48 × 40 RGB pictures (smooth colour fields plus noise)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:40, 0:48]
    out = []
    for _ in range(count):
        phase = rng.uniform(0, 6, size=3)
        field = np.stack([np.sin(rows / 6 + p) + np.cos(cols / 7 - p) for p in phase], axis=-1)
        noisy = field * 60 + 128 + rng.normal(0, 20, field.shape)
        out.append(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)))
    return out
