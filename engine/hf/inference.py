"""A Hugging Face model folder as an ``InferenceModel``: the app's one loader opens it.

``load_inference_model(DIR)`` (engine/inference.py) hands a directory to
``load_hf_inference_model``, which opens it (engine/hf/loading.py) and wraps it in
``HfInferenceModel``. Everything built on an InferenceModel then works on the folder
unchanged: sessions (step, back, force, beam tree, candidates), batches, files, the CLI.
What differs is only where things come from:

- the step model is ``HfStepModel`` (attention rows = layers · heads, layer-major);
- source ids are the model's own (``HfText``, its tokenizer's eos included, labelled
  ``</s>``); target ids are AttnScope's (``HfVocabMap``), labelled by the folder's
  tokenizer in the app's piece convention (engine/pieces.py);
- there is no AttnScope checkpoint: ``source_path`` is the folder, ``info`` what its
  files say (family, sizes, languages when the tokenizer names them, and the decoding
  its generation config recommends: engine/hf/generation.py), ``config`` None.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attnscope.engine.devices import available_devices
from attnscope.engine.errors import InputTextError
from attnscope.engine.hf.generation import generation_advice
from attnscope.engine.hf.loading import LoadedHfModel, load_hf_folder
from attnscope.engine.hf.multilingual import LanguageError, LanguagePair
from attnscope.engine.hf.step_model import decoder_shape
from attnscope.engine.hf.text import SourceSide, TargetSide
from attnscope.engine.images import ImageSource
from attnscope.engine.inference import InferenceModel
from attnscope.engine.inference_results import ModelSummary
from attnscope.engine.languages import SOURCE_KEY, TARGET_KEY, check_language_code
from attnscope.engine.snapshot import TargetLabels

ATTENTION = "scaled dot-product (cross)"
GENERATION_CONFIG = "generation_config.json"  # info["recommended_by"] of a folder
# "MarianMTModel" -> "Marian", "BartForConditionalGeneration" -> "Bart"
_CLASS_SUFFIX = re.compile(r"(ForConditionalGeneration|MTModel|Model)$")


class HfInferenceModel(InferenceModel):
    """A loaded Hugging Face encoder–decoder folder (see the module docstring).

    hf:     the opened folder (model, tokenizer, step model, text side)
    device: where it runs
    """

    def __init__(self, hf: LoadedHfModel, device: torch.device) -> None:
        self.hf = hf
        self.device = device
        self.model = hf.step_model
        self.config = None  # no AttnScope ModelConfig; the folder's is hf.folder.config
        self.task = "translation"
        self.src_tokenizer = SourceSide(hf.text)
        self.tgt_tokenizer = TargetSide(hf.text)
        self._pieces = self.tgt_tokenizer.labels
        self.labels = TargetLabels(
            self.piece, hf.text.detokenize, self.model.num_heads, num_layers=self.model.num_layers
        )

    # -- description -----------------------------------------------------
    @property
    def source_path(self) -> Path:
        return self.hf.folder.path

    @property
    def info(self) -> dict[str, Any]:
        """The folder's facts (``HfFolder.describe``), its tokenizer's word convention,
        its languages when the tokenizer names them (Marian's source_lang/target_lang), and
        the decoding its generation config recommends (``recommended_decoding``, with
        ``recommended_by`` and the options AttnScope cannot honour exactly)."""
        facts = self.hf.folder.describe()
        facts["word_convention"] = self.hf.text.convention
        generation = getattr(self.hf.model, "generation_config", None)
        advice = generation_advice(generation.to_diff_dict() if generation else None)
        if advice is not None:
            facts["recommended_decoding"] = advice.values
            facts["recommended_by"] = GENERATION_CONFIG
            facts["recommended_unhonoured"] = list(advice.unhonoured)
        if self.hf.languages is not None:  # mBART, M2M100, NLLB: the codes and the pair
            facts["language_pair"] = self.hf.languages.pair.describe()
        return facts | _languages(self.hf.tokenizer)

    @property
    def image_mean(self) -> tuple[float, ...] | None:
        """None: a translation folder takes text (a captioner's is its image processor's)."""
        return None

    def summary(self) -> ModelSummary:
        architecture = architecture_text(self.hf.folder.architecture, self.hf.model.config)
        # the encoder's self-attention gives each snapshot its source mixing
        return self.folder_summary(
            architecture, src_vocab=self.src_tokenizer.vocab_size, rollout=True
        )

    def folder_summary(self, architecture: str, *, src_vocab: int, rollout: bool) -> ModelSummary:
        """The summary of an opened folder, translator or captioner alike (the captioner
        passes its own ``architecture``, no source vocabulary and no rollout)."""
        return ModelSummary(
            path=str(self.source_path),
            name=self.source_path.name,
            task=self.task,
            architecture=architecture,
            attention=ATTENTION,
            heads=self.model.num_heads,
            parameters=sum(p.numel() for p in self.hf.model.parameters()),
            src_vocab=src_vocab,
            tgt_vocab=self.tgt_tokenizer.vocab_size,
            device=str(self.device),
            info=self.info,
            examples=(),
            target_vocab=self._pieces,
            devices=tuple(available_devices()),
            layers=self.model.num_layers,
            rollout=rollout,
        )

    # -- languages (a multilingual folder: engine/hf/multilingual.py) -----
    def languages(self) -> LanguagePair | None:
        """The language codes the folder offers and the pair chosen; None if it offers none."""
        return None if self.hf.languages is None else self.hf.languages.pair

    def set_languages(self, *, source: str | None = None, target: str | None = None):
        """Choose the source and/or target code (None keeps it) for the next session or
        batch; LanguageError for an unknown code or a folder that offers no choice."""
        if self.hf.languages is None:
            raise LanguageError(
                f"{self.source_path.name} offers no choice of language (that is for "
                "multilingual folders: mBART, M2M100, NLLB)"
            )
        return self.hf.languages.select(source=source, target=target)

    # -- sources ---------------------------------------------------------
    def source_ids(self, text: str) -> list[int]:
        """The model's own ids of ``text``, its tokenizer's eos included; empty or
        over-long text raises InputTextError."""
        return self.hf.text.encode(text)

    def source_pieces(self, text: str) -> tuple[str, ...]:
        """One label per encoder position (``source_ids``), eos as ``</s>``."""
        return tuple(self.hf.text.source_pieces(text))

    def target_ids(self, text: str) -> list[int]:
        """AttnScope target ids of an expected output, without eos."""
        ids = self.hf.text.target_ids(text)
        if not ids:
            raise InputTextError("the reference is empty")
        if len(ids) + 1 > self.hf.text.max_source_tokens:
            raise InputTextError(
                f"the reference is {len(ids)} tokens long; this model takes at most "
                f"{self.hf.text.max_source_tokens - 1} at once (split it into sentences)"
            )
        return ids

    def encode_texts(self, texts: list[str]):
        """HfMemory of a batch of texts (padded with the tokenizer's pad)."""
        ids, mask = self.hf.text.encode_batch(texts)  # (N, S), (N, S)
        return self.model.encode(ids.to(self.device), mask.to(self.device))

    def encode_images(self, images: list[ImageSource | np.ndarray]):
        raise InputTextError("this is a translation model: give it text, not an image")

    def encode_source(self, text: str):
        """One text's memory and the (S, S) rollout of the Transformer encoder's
        self-attention (engine/hf/rollout.py), both from one encoder pass."""
        from attnscope.engine.hf.rollout import source_mixing

        ids, mask = self.hf.text.encode_batch([text])  # (1, S), (1, S)
        memory, attentions = self.model.encode_with_attention(
            ids.to(self.device), mask.to(self.device)
        )
        return memory, source_mixing(attentions, mask)


def load_hf_inference_model(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> HfInferenceModel:
    """Open the Hugging Face folder ``path`` on ``device``; HfFolderError says why not."""
    target = torch.device(device)
    hf = load_hf_folder(path, device=target)
    if hf.folder.task == "captioning":  # a picture in (engine/hf/vision_inference.py)
        from attnscope.engine.hf.vision_inference import HfCaptionModel

        return HfCaptionModel(hf, target)
    return HfInferenceModel(hf, target)


def architecture_text(architecture: str, config: Any) -> str:
    """ "Marian 6+6 layers, d_model 512, 8 heads" from the model class and its config."""
    name = _CLASS_SUFFIX.sub("", architecture) or architecture
    encoder = getattr(config, "encoder_layers", None) or getattr(config, "num_layers", "?")
    decoder, heads = decoder_shape(config)
    return f"{name} {encoder}+{decoder} layers, d_model {config.d_model}, {heads} heads"


def _languages(tokenizer: Any) -> dict[str, str]:
    """SOURCE_KEY / TARGET_KEY from the tokenizer's source_lang / target_lang (valid ISO
    codes only: opus-mt folders name them; others name none, or group codes like 'mul')."""
    settings = getattr(tokenizer, "init_kwargs", {}) or {}
    found = {}
    for key, name in ((SOURCE_KEY, "source_lang"), (TARGET_KEY, "target_lang")):
        code = getattr(tokenizer, name, None) or settings.get(name)
        try:
            found[key] = check_language_code(code)
        except ValueError:
            continue
    return found
