"""Sentencepiece vocabularies for a run: trained once, shared by all ranks, resumable.

Rank 0 trains (sentencepiece training is not guaranteed to be bit-identical
across processes) and broadcasts the serialized model to the other ranks.
The serialized models travel in the training state as uint8 tensors so a
resumed run never retrains them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence

import torch

from attnscope.engine.tokenizers import TextTokenizer
from attnscope.engine.training.config import VocabConfig
from attnscope.engine.training.distributed import DistributedContext, broadcast_json

logger = logging.getLogger(__name__)


def _train(lines: Sequence[str], size: int, config: VocabConfig) -> TextTokenizer:
    return TextTokenizer.train(
        lines,
        vocab_size=size,
        model_type=config.model_type,
        max_sentences=config.max_sentences,
    )


def _share(tokenizer: TextTokenizer | None, context: DistributedContext) -> TextTokenizer:
    encoded = base64.b64encode(tokenizer.to_bytes()).decode("ascii") if tokenizer else None
    encoded = broadcast_json(encoded, context)
    return TextTokenizer.from_bytes(base64.b64decode(encoded))


def train_translation_vocabularies(
    sources: Sequence[str],
    targets: Sequence[str],
    config: VocabConfig,
    context: DistributedContext,
) -> tuple[TextTokenizer, TextTokenizer]:
    """(source, target) tokenizers; the same object twice when ``config.shared``."""
    if config.shared:
        joint = _train([*sources, *targets], config.size, config) if context.is_main else None
        joint = _share(joint, context)
        logger.info("joint vocabulary: %d pieces", joint.vocab_size)
        return joint, joint
    src = _train(sources, config.source_size, config) if context.is_main else None
    tgt = _train(targets, config.target_size, config) if context.is_main else None
    src, tgt = _share(src, context), _share(tgt, context)
    logger.info("vocabularies: source %d, target %d pieces", src.vocab_size, tgt.vocab_size)
    return src, tgt


def train_caption_vocabulary(
    captions: Sequence[str], config: VocabConfig, context: DistributedContext
) -> TextTokenizer:
    """The target tokenizer of a captioning run."""
    tokenizer = _train(captions, config.target_size, config) if context.is_main else None
    tokenizer = _share(tokenizer, context)
    logger.info("caption vocabulary: %d pieces", tokenizer.vocab_size)
    return tokenizer


def tokenizer_to_tensor(tokenizer: TextTokenizer) -> torch.Tensor:
    """Serialized model as a uint8 tensor (storable with torch.save, loadable weights_only)."""
    return torch.frombuffer(bytearray(tokenizer.to_bytes()), dtype=torch.uint8).clone()


def tokenizer_from_tensor(data: torch.Tensor) -> TextTokenizer:
    return TextTokenizer.from_bytes(data.numpy().tobytes())
