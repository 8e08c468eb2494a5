"""Captioning training: an image folder + captions CSV -> a Show-Attend-Tell style model.

- One training example per (image, caption) pair; batches are bucketed by
  caption length.
- The CNN trunk starts from a local weights file when given (random
  otherwise), is frozen by default and can be unfrozen from epoch
  ``run.fine_tune_after`` with its own learning-rate scale (0 with no
  weights file trains a from-scratch trunk such as ``small_cnn`` end to end).
  Its BatchNorm statistics stay frozen (eval mode), since small caption
  batches would only corrupt pretrained ones, unless
  ``run.update_trunk_statistics`` asks a trainable from-scratch trunk to
  learn them.
- While the trunk is frozen its output is computed once per image and
  cached in memory (``run.cache_features``), which is what makes CPU
  training bearable: each epoch then only runs the decoder.
- The loss adds the doubly stochastic attention regulariser of Show, Attend
  and Tell, weighted by ``optim.attention_regularizer`` relative to each
  caption's summed NLL (as in the paper), then normalised per token.
- Validation: teacher-forced loss/perplexity over every caption, and for one
  greedy caption per image BLEU-1..4 and CIDEr-D (see ``engine.metrics``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from attnscope.engine import metrics
from attnscope.engine.decoding import BOS_ID, EOS_ID, DecodeConfig, decode
from attnscope.engine.images import ImagePreprocess, load_image, to_tensor
from attnscope.engine.tokenizers import TextTokenizer
from attnscope.engine.training import data as readers
from attnscope.engine.training.batching import BatchingConfig, make_batches
from attnscope.engine.training.config import TrainConfig
from attnscope.engine.training.distributed import (
    DistributedContext,
    all_reduce_sum,
    gather_in_order,
    shard_for_rank,
)
from attnscope.engine.training.loss import pad_sequences, sequence_loss
from attnscope.engine.training.tasks import (
    Batch,
    ForwardPass,
    LossTerms,
    TrainingTask,
    encode_batch,
)
from attnscope.engine.training.vocab import train_caption_vocabulary
from attnscope.models.captioning import doubly_stochastic_penalty
from attnscope.models.seq2seq import EncoderDecoder

logger = logging.getLogger(__name__)

FEATURE_BATCH = 32  # images per trunk pass when filling the feature cache
DECODE_SLACK = 5


def load_image_sets(config: TrainConfig) -> tuple[list, list]:
    """(train, validation) CaptionedImages from the folder, captions and split file."""
    data = config.data
    if data.split_file:

        def split(names):
            return readers.load_captioned_images(
                data.images, data.captions, split_path=data.split_file, splits=names
            )

        return split(data.train_splits), split(data.val_splits)
    images = readers.load_captioned_images(data.images, data.captions)
    count = data.val_size or max(1, len(images) // 20)
    logger.info("no split file: holding out %d of %d images for validation", count, len(images))
    return readers.hold_out(images, count, seed=config.run.seed)


class ImageCaptions:
    """Images, their tokenized captions and (optionally) cached trunk features."""

    def __init__(
        self,
        images: list,
        tokenizer: TextTokenizer,
        preprocess: ImagePreprocess,
        max_tokens: int | None = None,
    ) -> None:
        self.images = images
        self.preprocess = preprocess
        self.examples: list[tuple[int, list[int]]] = []  # (image index, caption ids)
        for index, item in enumerate(images):
            for caption in item.captions:
                ids = tokenizer.encode(caption)
                if ids and (max_tokens is None or len(ids) <= max_tokens):
                    self.examples.append((index, ids))
        self.features: Tensor | None = None  # (N_images, C, h, w) when cached

    @property
    def lengths(self) -> list[tuple[int, int]]:
        return [(0, len(ids) + 1) for _, ids in self.examples]

    def pixels(self, image_indices: list[int]) -> Tensor:
        """(B, 3, H, W) normalised images, decoded from disk."""
        return torch.stack(
            [to_tensor(load_image(self.images[i].path), self.preprocess) for i in image_indices]
        )

    def encoder_inputs(self, image_indices: list[int]) -> tuple[Tensor, bool]:
        """Cached features when available, else pixels; and which of the two it is."""
        if self.features is not None:
            return self.features[image_indices], True
        return self.pixels(image_indices), False

    def collate(self, indices: list[int]) -> Batch:
        image_ids = [self.examples[i][0] for i in indices]
        captions = [self.examples[i][1] for i in indices]
        inputs, from_features = self.encoder_inputs(image_ids)
        return Batch(
            inputs=(inputs,),
            tgt_in=pad_sequences(captions, prefix=BOS_ID),
            tgt_out=pad_sequences(captions, suffix=EOS_ID),
            from_features=from_features,
        )

    def cache_features(self, trunk: torch.nn.Module, device: torch.device) -> None:
        """Run the (frozen, eval-mode) trunk once over every image; keep its output on CPU."""
        chunks = []
        with torch.no_grad():
            for start in range(0, len(self.images), FEATURE_BATCH):
                indices = list(range(start, min(start + FEATURE_BATCH, len(self.images))))
                chunks.append(trunk(self.pixels(indices).to(device)).cpu())
        self.features = torch.cat(chunks)  # (N, C, h, w)


def set_trunk_trainable(model: EncoderDecoder, trainable: bool) -> None:
    for param in model.encoder.trunk.parameters():
        param.requires_grad_(trainable)


class CaptioningTask(TrainingTask):
    """Image folder + captions in, a CaptioningModel's data, loss and validation out."""

    name = "captioning"
    decoded_metric = "cider"

    def __init__(
        self,
        config: TrainConfig,
        context: DistributedContext,
        *,
        tokenizers: dict[str, TextTokenizer] | None = None,
    ) -> None:
        super().__init__(config, context)
        train_images, val_images = load_image_sets(config)
        if tokenizers:
            self.tgt_tok = tokenizers["tgt"]
        else:
            captions = [c for item in train_images for c in item.captions]
            self.tgt_tok = train_caption_vocabulary(captions, config.vocab, context)
        self.model_config = config.model_config(src_vocab=0, tgt_vocab=self.tgt_tok.vocab_size)
        self.preprocess = ImagePreprocess.from_model_config(self.model_config.image_encoder)
        self.train = ImageCaptions(
            train_images, self.tgt_tok, self.preprocess, config.data.max_tgt_tokens
        )
        self.val = ImageCaptions(val_images, self.tgt_tok, self.preprocess)
        if not self.train.examples:
            raise ValueError("no training captions left after the length filter")
        self.train_lengths = self.train.lengths
        self.trunk_trainable = False
        logger.info(
            "captioning: %d training images (%d captions), %d validation images",
            len(train_images),
            len(self.train.examples),
            len(val_images),
        )

    def tokenizers(self) -> dict[str, TextTokenizer]:
        return {"tgt": self.tgt_tok}

    def collate(self, indices: list[int]) -> Batch:
        return self.train.collate(indices)

    def prepare_model(self, model: EncoderDecoder) -> None:
        weights = self.config.run.trunk_weights
        if weights:
            from attnscope.engine.pretrained import load_trunk_weights

            load_trunk_weights(model.encoder.trunk, weights)
        set_trunk_trainable(model, False)

    def on_epoch_start(self, epoch: int, model: EncoderDecoder) -> bool:
        after = self.config.run.fine_tune_after
        trainable = after >= 0 and epoch >= after
        changed = trainable != self.trunk_trainable
        if changed:
            logger.info("epoch %d: CNN trunk %s", epoch + 1, "unfrozen" if trainable else "frozen")
        self.trunk_trainable = trainable
        set_trunk_trainable(model, trainable)
        if trainable:
            self.train.features = self.val.features = None
        elif (
            self.config.run.cache_features
            and model.encoder.local_keys is None  # local keys are read from the images
            and self.train.features is None
        ):
            device = next(model.parameters()).device
            model.encoder.trunk.eval()
            logger.info(
                "caching trunk features of %d images", len(self.train.images) + len(self.val.images)
            )
            started = time.monotonic()
            self.train.cache_features(model.encoder.trunk, device)
            self.val.cache_features(model.encoder.trunk, device)
            logger.info("features cached in %.0f s", time.monotonic() - started)
        return changed

    def param_groups(self, model: EncoderDecoder) -> list[dict[str, Any]]:
        trunk = {id(p) for p in model.encoder.trunk.parameters()}
        rest = [p for p in model.parameters() if id(p) not in trunk]
        return [
            {"params": rest},
            {
                "params": list(model.encoder.trunk.parameters()),
                "lr_scale": self.config.run.trunk_lr_scale,
            },
        ]

    def train_mode(self, model: EncoderDecoder) -> None:
        model.train()
        if not (self.trunk_trainable and self.config.run.update_trunk_statistics):
            model.encoder.trunk.eval()  # BatchNorm statistics stay frozen

    def loss_terms(self, log_probs: Tensor, attn: Tensor | None, batch: Batch) -> LossTerms:
        terms = super().loss_terms(log_probs, attn, batch)
        weight = self.config.optim.attention_regularizer
        if attn is None or weight == 0:
            return terms
        penalty = doubly_stochastic_penalty(attn, batch.tgt_out.ne(self.model_config.pad_id))
        per_token = weight * penalty * batch.size / max(terms.tokens.tokens, 1)
        return LossTerms(terms.tokens, per_token)

    def validate(
        self, model: EncoderDecoder, device: torch.device, *, decode: bool
    ) -> dict[str, Any]:
        model.eval()
        nll, tokens = self._val_nll(model, device)
        nll, tokens = all_reduce_sum([nll, tokens], self.context)
        mean_nll = nll / max(tokens, 1.0)
        result: dict[str, Any] = {"val_loss": mean_nll, "val_ppl": metrics.perplexity(mean_nll)}
        if decode:
            limit = min(
                self.config.data.max_val_examples or len(self.val.images), len(self.val.images)
            )
            captions = self.caption_images(model, list(range(limit)), device)
            refs = [item.captions for item in self.val.images[:limit]]
            scores = metrics.caption_scores(captions, refs)
            result.update({key.lower().replace("-", ""): value for key, value in scores.items()})
            result["cider"] = result.pop("ciderd")
        return result

    def _val_nll(self, model: EncoderDecoder, device: torch.device) -> tuple[float, float]:
        indices = shard_for_rank(list(range(len(self.val.examples))), self.context)
        lengths = self.val.lengths
        groups = make_batches(
            [lengths[i] for i in indices],
            BatchingConfig(batch_size=self.config.data.batch_size, shuffle=False),
        )
        forward, nll, tokens = ForwardPass(model), 0.0, 0.0
        with torch.no_grad():
            for group in groups:
                batch = self.val.collate([indices[i] for i in group]).to(device)
                loss = sequence_loss(forward(batch)[0], batch.tgt_out)
                nll += float(loss.nll)
                tokens += loss.tokens
        return nll, tokens

    def validation_decoding(self) -> DecodeConfig:
        """Greedy, capped a little above the longest training caption: the epochs' decode."""
        return DecodeConfig(
            strategy="greedy",
            max_length=self.config.data.max_tgt_tokens + DECODE_SLACK,
            max_length_ratio=0.0,
            topk_alternatives=0,
        )

    def score_decoding(
        self, model: EncoderDecoder, device: torch.device, config: DecodeConfig
    ) -> float:
        """Validation CIDEr-D of the captions ``config`` gives (all ranks must call it)."""
        model.eval()
        limit = min(self.config.data.max_val_examples or len(self.val.images), len(self.val.images))
        captions = self.caption_images(model, list(range(limit)), device, config)
        refs = [item.captions for item in self.val.images[:limit]]
        return metrics.caption_scores(captions, refs)["CIDEr-D"]

    def caption_images(
        self,
        model: EncoderDecoder,
        image_indices: list[int],
        device: torch.device,
        config: DecodeConfig | None = None,
    ) -> list[str]:
        """Captions of validation images (greedy unless ``config``), sharded over ranks,
        in input order."""
        mine = shard_for_rank(image_indices, self.context)
        config = config or self.validation_decoding()
        texts = []
        with torch.no_grad():
            for start in range(0, len(mine), self.config.data.batch_size):
                chunk = mine[start : start + self.config.data.batch_size]
                inputs, from_features = self.val.encoder_inputs(chunk)
                batch = Batch((inputs.to(device),), torch.empty(0), torch.empty(0), from_features)
                memory = encode_batch(model, batch)
                texts.extend(
                    self.tgt_tok.decode(r.best.output_tokens) for r in decode(model, memory, config)
                )
        return gather_in_order(texts, self.context)

    def save_checkpoint(self, path: Path, model: EncoderDecoder, info: dict[str, Any]) -> None:
        from attnscope.engine.checkpoint import STORAGE_DTYPES, save_checkpoint

        save_checkpoint(
            path,
            model=model,
            tgt_tokenizer=self.tgt_tok,
            image_preprocess=self.preprocess,
            info=info,
            storage_dtype=STORAGE_DTYPES[self.config.run.storage_dtype],
        )
