"""An OpenNMT-py RNN checkpoint as an AttnScope model, and as an AttnScope checkpoint file.

``import_onmt(path)`` reads the checkpoint safely (``reader``), maps its options onto a
``ModelConfig`` (``options``), its weights onto that model (``weights``) and its
vocabularies onto sentencepiece tokenizers (``vocab_tokenizer``); ``convert_onmt`` writes
the result as one ``.safetensors`` checkpoint that every command and the app open.
The model decodes as onmt_translate does (tests/engine/onmt/ compare both on a real
OpenNMT-py 3.5.1 model); its ``training_info`` recommends onmt_translate's defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from attnscope.engine.checkpoint import _SkipParameterInit, save_checkpoint
from attnscope.engine.checkpoint_format import TensorEntry, checkpoint_error
from attnscope.engine.checkpoint_pytorch import MAX_TOKENIZER_BYTES, read_regular_file
from attnscope.engine.checkpoint_tensors import (
    check_parameter_count,
    check_tensors,
    count_parameters,
    expected_tensors,
    fill_model,
)
from attnscope.engine.errors import TokenizerError
from attnscope.engine.onmt.options import model_config, resolved_options
from attnscope.engine.onmt.reader import OnmtCheckpoint, read_onmt_checkpoint
from attnscope.engine.onmt.vocab_tokenizer import reordered_tokenizer, word_tokenizer
from attnscope.engine.onmt.weights import map_weights, vocab_order
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.models.config import ModelConfig
from attnscope.models.registry import build_model

logger = logging.getLogger(__name__)

# onmt_translate's defaults: beam 5, scores averaged over the length, at most
# min(250, 1.25 x source length + 5) tokens (AttnScope adds the same slack of 5).
ONMT_DECODING = {
    "strategy": "beam",
    "beam_size": 5,
    "length_penalty": "average",
    "max_length": 250,
    "max_length_ratio": 1.25,
}
# Options worth keeping in the imported file's training_info (what the model was).
KEPT_OPTIONS = (
    "encoder_type",
    "rnn_type",
    "enc_layers",
    "enc_hid_size",
    "global_attention",
    "input_feed",
    "bridge",
    "share_embeddings",
    "share_decoder_embeddings",
    "train_steps",
    "save_model",
)


@dataclass(frozen=True)
class ImportedModel:
    """An OpenNMT-py model mapped onto AttnScope: the model in eval mode and its tokenizers."""

    config: ModelConfig
    model: nn.Module
    src_tokenizer: TextTokenizer
    tgt_tokenizer: TextTokenizer
    info: dict[str, Any]


def import_onmt(
    path: str | Path, *, src_spm: str | Path | None = None, tgt_spm: str | Path | None = None
) -> ImportedModel:
    """The model an OpenNMT-py 3.x RNN checkpoint holds, ready to decode.

    ``src_spm`` / ``tgt_spm``: the sentencepiece ``.model`` files the training data was
    cut with (embedded in the result); without them the vocabularies are read as words.
    Every problem raises CheckpointError naming the file and the part at fault.
    """
    path = Path(path)
    onmt = read_onmt_checkpoint(path)
    try:
        opts = resolved_options(onmt.options)
        config = model_config(opts, src_vocab=len(onmt.src_vocab), tgt_vocab=len(onmt.tgt_vocab))
        if onmt.decoder_start != "<s>":
            raise ValueError(f"starts decoding with {onmt.decoder_start!r}, not <s>")
        if config.share_embeddings and onmt.src_vocab != onmt.tgt_vocab:
            raise ValueError("shares its embeddings but its two vocabularies differ")
        src_order = vocab_order(onmt.src_vocab, "source")
        tgt_order = vocab_order(onmt.tgt_vocab, "target")
        tensors = map_weights(onmt.weights, config, src_order, tgt_order)
    except ValueError as exc:
        raise checkpoint_error(path, f"cannot be imported: {exc}") from exc
    model = _filled_model(path, config, tensors)
    src_tokens = [onmt.src_vocab[i] for i in src_order]
    tgt_tokens = [onmt.tgt_vocab[i] for i in tgt_order]
    src_tok = _tokenizer(path, src_tokens, src_spm, "source")
    same = src_tokens == tgt_tokens and src_spm == tgt_spm
    tgt_tok = src_tok if same else _tokenizer(path, tgt_tokens, tgt_spm, "target")
    return ImportedModel(config, model, src_tok, tgt_tok, _info(onmt, opts, src_spm, tgt_spm))


def convert_onmt(
    path: str | Path,
    out: str | Path,
    *,
    src_spm: str | Path | None = None,
    tgt_spm: str | Path | None = None,
) -> Path:
    """Import ``path`` and write it to ``out`` (``.safetensors``); -> the written path."""
    imported = import_onmt(path, src_spm=src_spm, tgt_spm=tgt_spm)
    written = save_checkpoint(
        out,
        model=imported.model,
        tgt_tokenizer=imported.tgt_tokenizer,
        src_tokenizer=imported.src_tokenizer,
        info=imported.info,
    )
    logger.info("imported OpenNMT-py checkpoint %s as %s", path, written)
    return written


def _filled_model(path: Path, config: ModelConfig, tensors: dict[str, torch.Tensor]) -> nn.Module:
    """The model for ``config`` filled with ``tensors``; sizes checked before anything is
    allocated (the options are untrusted: they could declare a huge model)."""
    entries = {name: TensorEntry(tuple(t.shape), t.dtype) for name, t in tensors.items()}
    check_parameter_count(path, config, count_parameters(entries))
    try:
        with torch.device("meta"), _SkipParameterInit():
            skeleton = build_model(config)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise checkpoint_error(path, f"model cannot be built from its options: {exc}") from exc
    check_tensors(path, entries, expected_tensors(skeleton))
    with _SkipParameterInit():
        model = build_model(config)
    fill_model(path, model, tensors)
    return model.eval()


def _tokenizer(path: Path, tokens: list[str], spm: str | Path | None, side: str) -> TextTokenizer:
    """The word-level tokenizer of ``tokens``, or the given sentencepiece model reordered."""
    try:
        if spm is None:
            return word_tokenizer(tokens)
        blob = read_regular_file(Path(spm), MAX_TOKENIZER_BYTES, str(path), f"{side} spm")
        return reordered_tokenizer(blob, tokens)
    except TokenizerError as exc:
        raise checkpoint_error(path, f"its {side} vocabulary cannot be used: {exc}") from exc


def _info(onmt: OnmtCheckpoint, opts: dict, src_spm, tgt_spm) -> dict[str, Any]:
    return {
        "imported_from": "OpenNMT-py",
        "source_file": onmt.path.name,
        "weights_file": onmt.weights_file.name if onmt.weights_file else None,
        "tokenizers": "sentencepiece" if src_spm or tgt_spm else "words (OpenNMT-py vocabulary)",
        "onmt_options": {name: opts.get(name) for name in KEPT_OPTIONS},
        "recommended_decoding": dict(ONMT_DECODING),
    }
