"""Translation training: parallel text -> sentencepiece ids -> length-bucketed batches.

Validation reports the teacher-forced loss and perplexity on every
validation pair and, when asked, corpus BLEU (sacrebleu, with its
signature) of greedy translations detokenized by sentencepiece against the
raw reference lines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnscope.engine import metrics
from attnscope.engine.decoding import BOS_ID, EOS_ID, DecodeConfig, decode
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.engine.training import data as readers
from attnscope.engine.training.batching import BatchingConfig, make_batches
from attnscope.engine.training.config import DataConfig, TrainConfig
from attnscope.engine.training.distributed import (
    DistributedContext,
    all_reduce_sum,
    gather_in_order,
    shard_for_rank,
)
from attnscope.engine.training.loss import pad_sequences, sequence_loss
from attnscope.engine.training.tasks import Batch, ForwardPass, TrainingTask
from attnscope.engine.training.vocab import train_translation_vocabularies
from attnscope.models.seq2seq import EncoderDecoder

logger = logging.getLogger(__name__)

AUTO_VAL_FRACTION = 20  # hold out 1/20 of the pairs ...
AUTO_VAL_MAX = 1000  # ... at most this many, when no validation data is given
DECODE_SLACK = 10  # greedy output may exceed the longest training target by this much


def load_pairs(
    data: DataConfig, seed: int
) -> tuple[list[readers.TextPair], list[readers.TextPair]]:
    """(train, validation) pairs from the configured files; empty pairs dropped."""
    if data.pairs_train:
        columns = {"source_column": data.source_column, "target_column": data.target_column}
        train = readers.read_tsv_pairs(data.pairs_train, **columns)
        val = readers.read_tsv_pairs(data.pairs_val, **columns) if data.pairs_val else []
    else:
        train = readers.read_parallel(data.src_train, data.tgt_train)
        val = readers.read_parallel(data.src_val, data.tgt_val) if data.src_val else []
    train, val = readers.drop_empty(train), readers.drop_empty(val)
    if not val:
        count = data.val_size or min(AUTO_VAL_MAX, max(1, len(train) // AUTO_VAL_FRACTION))
        train, val = readers.hold_out(train, count, seed=seed)
        logger.info("no validation data given: held out %d training pairs", len(val))
    return train, val


def source_row(ids: list[int]) -> list[int]:
    """Encoder input for source ids: the ids then eos, as at inference time."""
    return [*ids, EOS_ID]


@dataclass(frozen=True)
class EncodedPairs:
    """Tokenized pairs (ids without bos/eos) and the raw reference text."""

    sources: list[list[int]]
    targets: list[list[int]]
    references: list[str]

    @property
    def lengths(self) -> list[tuple[int, int]]:
        return [(len(s) + 1, len(t) + 1) for s, t in zip(self.sources, self.targets, strict=True)]

    def collate(self, indices: list[int]) -> Batch:
        src = [source_row(self.sources[i]) for i in indices]
        tgt = [self.targets[i] for i in indices]
        return Batch(
            inputs=(pad_sequences(src), torch.tensor([len(s) for s in src], dtype=torch.long)),
            tgt_in=pad_sequences(tgt, prefix=BOS_ID),
            tgt_out=pad_sequences(tgt, suffix=EOS_ID),
        )


def encode_pairs(
    pairs: list[readers.TextPair],
    src_tok: TextTokenizer,
    tgt_tok: TextTokenizer,
    *,
    max_src: int | None = None,
    max_tgt: int | None = None,
) -> EncodedPairs:
    """Tokenize; with limits, pairs longer than them are dropped (counted in the log)."""
    sources, targets, refs = [], [], []
    for pair in pairs:
        src, tgt = src_tok.encode(pair.source), tgt_tok.encode(pair.target)
        if (max_src and len(src) > max_src) or (max_tgt and len(tgt) > max_tgt):
            continue
        sources.append(src)
        targets.append(tgt)
        refs.append(pair.target)
    if len(sources) < len(pairs):
        logger.info(
            "length filter dropped %d of %d pairs (max %s/%s tokens)",
            len(pairs) - len(sources),
            len(pairs),
            max_src,
            max_tgt,
        )
    return EncodedPairs(sources, targets, refs)


class TranslationTask(TrainingTask):
    """Parallel text in, a TranslationModel's data, loss and validation out."""

    name = "translation"
    decoded_metric = "bleu"

    def __init__(
        self,
        config: TrainConfig,
        context: DistributedContext,
        *,
        tokenizers: dict[str, TextTokenizer] | None = None,
    ) -> None:
        super().__init__(config, context)
        data = config.data
        train_pairs, val_pairs = load_pairs(data, config.run.seed)
        if tokenizers:
            self.src_tok, self.tgt_tok = tokenizers["src"], tokenizers["tgt"]
        else:
            self.src_tok, self.tgt_tok = train_translation_vocabularies(
                [p.source for p in train_pairs],
                [p.target for p in train_pairs],
                config.vocab,
                context,
            )
        self.train = encode_pairs(
            train_pairs,
            self.src_tok,
            self.tgt_tok,
            max_src=data.max_src_tokens,
            max_tgt=data.max_tgt_tokens,
        )
        if not self.train.sources:
            raise ValueError("no training pairs left after the length filter")
        self.val = encode_pairs(val_pairs, self.src_tok, self.tgt_tok)
        self.train_lengths = self.train.lengths
        self.model_config = config.model_config(
            src_vocab=self.src_tok.vocab_size, tgt_vocab=self.tgt_tok.vocab_size
        )
        logger.info(
            "translation: %d training pairs, %d validation pairs",
            len(self.train.sources),
            len(self.val.sources),
        )

    def collate(self, indices: list[int]) -> Batch:
        return self.train.collate(indices)

    def tokenizers(self) -> dict[str, TextTokenizer]:
        return {"src": self.src_tok, "tgt": self.tgt_tok}

    def validate(
        self, model: EncoderDecoder, device: torch.device, *, decode: bool
    ) -> dict[str, Any]:
        model.eval()
        indices = shard_for_rank(range(len(self.val.sources)), self.context)
        nll, tokens = _teacher_forced_nll(model, self.val, indices, device, self.config.data)
        nll, tokens = all_reduce_sum([nll, tokens], self.context)
        mean_nll = nll / max(tokens, 1.0)
        result: dict[str, Any] = {"val_loss": mean_nll, "val_ppl": metrics.perplexity(mean_nll)}
        if decode:
            limit = self.config.data.max_val_examples or len(self.val.sources)
            hypotheses = self.translate_ids(model, self.val.sources[:limit], device)
            score = metrics.bleu(hypotheses, self.val.references[:limit])
            result.update(bleu=score.score, bleu_signature=score.signature)
        return result

    def validation_decoding(self) -> DecodeConfig:
        """Greedy, capped a little above the longest training target: the epochs' decode."""
        return DecodeConfig(
            strategy="greedy",
            max_length=self.config.data.max_tgt_tokens + DECODE_SLACK,
            topk_alternatives=0,
        )

    def score_decoding(
        self, model: EncoderDecoder, device: torch.device, config: DecodeConfig
    ) -> float:
        """Validation BLEU of the translations ``config`` gives (all ranks must call it)."""
        model.eval()
        limit = self.config.data.max_val_examples or len(self.val.sources)
        hypotheses = self.translate_ids(model, self.val.sources[:limit], device, config)
        return metrics.bleu(hypotheses, self.val.references[:limit]).score

    def translate_ids(
        self,
        model: EncoderDecoder,
        sources: list[list[int]],
        device: torch.device,
        config: DecodeConfig | None = None,
    ) -> list[str]:
        """Translations of tokenized sources (greedy unless ``config``), sharded over ranks,
        in input order."""
        mine = shard_for_rank(list(range(len(sources))), self.context)
        config = config or self.validation_decoding()
        texts = greedy_texts(
            model,
            [sources[i] for i in mine],
            self.tgt_tok,
            device,
            config,
            self.config.data.batch_size,
        )
        return gather_in_order(texts, self.context)

    def save_checkpoint(self, path: Path, model: EncoderDecoder, info: dict[str, Any]) -> None:
        from attnscope.engine.checkpoint import STORAGE_DTYPES, save_checkpoint

        save_checkpoint(
            path,
            model=model,
            tgt_tokenizer=self.tgt_tok,
            src_tokenizer=self.src_tok,
            info=info,
            storage_dtype=STORAGE_DTYPES[self.config.run.storage_dtype],
        )


def _teacher_forced_nll(
    model: EncoderDecoder,
    pairs: EncodedPairs,
    indices: list[int],
    device: torch.device,
    data: DataConfig,
) -> tuple[float, float]:
    """Summed NLL and token count of ``indices`` (teacher forcing, no smoothing)."""
    lengths = pairs.lengths
    batching = BatchingConfig(
        batch_size=data.batch_size, batch_tokens=data.batch_tokens, shuffle=False
    )
    groups = make_batches([lengths[i] for i in indices], batching)
    forward = ForwardPass(model)
    nll = tokens = 0.0
    with torch.no_grad():
        for group in groups:
            batch = pairs.collate([indices[i] for i in group]).to(device)
            log_probs, _ = forward(batch)
            loss = sequence_loss(log_probs, batch.tgt_out)
            nll += float(loss.nll)
            tokens += loss.tokens
    return nll, tokens


def greedy_texts(
    model: EncoderDecoder,
    sources: list[list[int]],
    tokenizer: TextTokenizer,
    device: torch.device,
    config: DecodeConfig,
    batch_size: int,
) -> list[str]:
    """Decode tokenized sources with ``config``; detokenized best hypotheses, input order."""
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    texts: list[str] = [""] * len(sources)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            src = [source_row(sources[i]) for i in chunk]
            memory = model.encode(
                pad_sequences(src).to(device),
                torch.tensor([len(s) for s in src], dtype=torch.long, device=device),
            )
            for i, result in zip(chunk, decode(model, memory, config), strict=True):
                texts[i] = tokenizer.decode(result.best.output_tokens)
    return texts
