"""A loaded checkpoint ready to run: text or image in, sessions and batches out.

This is the one bridge the CLI and the GUI worker use. ``InferenceModel`` loads a
checkpoint onto a device, describes it (``ModelSummary``), checks and encodes
inputs, and opens step-wise sessions (``OpenSession``, engine/snapshot.py, which
also builds the view record); whole batches and files are decoded by
engine/batch.py. Everything handed out (engine/inference_results.py) is plain
data: numpy arrays, tuples and strings, never torch tensors.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attnscope.engine import batch
from attnscope.engine.checkpoint import Checkpoint, load_checkpoint
from attnscope.engine.decoding import EOS_ID, DecodeConfig
from attnscope.engine.devices import available_devices, pick_device
from attnscope.engine.errors import (
    AttnScopeError,
    CheckpointError,
    DecodeCancelled,
    InputTextError,
)
from attnscope.engine.images import ImageSource, load_image, to_rgb, to_tensor
from attnscope.engine.inference_results import (
    Caption,
    ModelSummary,
    SessionSnapshot,
    TokenStep,
    Translation,
)
from attnscope.engine.input_files import display_path
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS, max_source_positions
from attnscope.engine.pieces import EOS_PIECE
from attnscope.engine.session import DecodeSession
from attnscope.engine.snapshot import OpenSession, TargetLabels


class NoModelError(AttnScopeError):
    """A request that needs a model or a session arrived before one existed."""


def _checked_ids(tokenizer, text: str, what: str, limit: int = MAX_SOURCE_TOKENS) -> list[int]:
    """Ids of ``text`` (no eos); empty, unreadable or over-long text (more than ``limit``
    positions with eos) raises InputTextError naming ``what`` ("source text", "reference")."""
    if not text or not text.strip():
        raise InputTextError(f"the {what} is empty")
    ids = tokenizer.encode(text)
    if not ids:
        raise InputTextError(f"the {what} has nothing the tokenizer can read")
    if len(ids) + 1 > limit:
        raise InputTextError(
            f"the {what} is {len(ids)} tokens long; this model takes at most {limit - 1} "
            "at once (split it into sentences)"
        )
    return ids


def _architecture(config) -> str:
    decoder = f"{config.decoder.cell.upper()} {config.decoder.hidden}×{config.decoder.layers}"
    if config.task == "captioning":
        grid = config.image_encoder.grid
        grid_text = f"{grid[0]}×{grid[1]} grid" if grid else "natural grid"
        return f"{config.image_encoder.backbone} ({grid_text}) → {decoder}"
    enc = config.text_encoder
    if enc.kind == "cnn":
        encoder = f"CNN {enc.hidden} (kernels {'/'.join(map(str, enc.kernel_sizes))})"
    else:
        prefix = "conv→" if enc.kind == "conv_rnn" else ""
        bi = "bi-" if enc.bidirectional else ""
        encoder = f"{prefix}{bi}{enc.cell.upper()} {enc.hidden}×{enc.layers}"
    return f"{encoder} → {decoder}"


class InferenceModel:
    """A checkpoint on a device, with the tokenizers and preprocessing it carries."""

    def __init__(self, checkpoint: Checkpoint, device: torch.device) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.model = checkpoint.model.to(device).eval()
        self.config = checkpoint.config
        self.task = self.config.task
        self.tgt_tokenizer = checkpoint.tgt_tokenizer
        self.src_tokenizer = checkpoint.src_tokenizer
        vocab = self.tgt_tokenizer.vocab_size
        self._pieces = tuple(self.tgt_tokenizer.id_to_piece(i) for i in range(vocab))
        self.labels = TargetLabels(self.piece, self.tgt_tokenizer.decode, self.model.num_heads)

    # -- description -----------------------------------------------------
    @property
    def source_path(self) -> Path:
        """Where the model was opened from: the checkpoint file (or a model folder)."""
        return Path(self.checkpoint.path)

    @property
    def info(self) -> dict[str, Any]:
        """What the model says of itself (a checkpoint's info: languages, training,
        recommended_decoding, examples); a copy."""
        return dict(self.checkpoint.info or {})

    def summary(self) -> ModelSummary:
        info = self.info
        examples = tuple(info.get("examples", ()))
        path = str(self.source_path)
        return ModelSummary(
            path=path,
            name=Path(path).name,
            task=self.task,
            architecture=_architecture(self.config),
            attention=self.config.attention.kind,
            heads=self.model.num_heads,
            parameters=self.checkpoint.num_parameters,
            src_vocab=self.src_tokenizer.vocab_size if self.src_tokenizer else 0,
            tgt_vocab=self.tgt_tokenizer.vocab_size,
            device=str(self.device),
            info=info,
            examples=examples,
            target_vocab=self._pieces,
            devices=tuple(available_devices()),
        )

    @property
    def image_mean(self) -> tuple[float, ...] | None:
        """The mean colour (0-1 per channel) pictures are normalised with, None for text:
        the image what-if's grey fill."""
        preprocess = self.checkpoint.image_preprocess
        return None if preprocess is None else tuple(preprocess.mean)

    def piece(self, token_id: int) -> str:
        return EOS_PIECE if token_id == EOS_ID else self._pieces[int(token_id)]

    # -- sources ---------------------------------------------------------
    def source_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` plus eos (none if the model was trained without, e.g. one
        imported from OpenNMT-py); empty or over-long text raises InputTextError."""
        if self.src_tokenizer is None:
            raise InputTextError("this is a captioning model: give it an image, not text")
        limit = max_source_positions(self.config) or MAX_SOURCE_TOKENS
        ids = _checked_ids(self.src_tokenizer, text, "source text", limit)
        return [*ids, EOS_ID] if self.config.source_eos else ids

    def source_pieces(self, text: str) -> tuple[str, ...]:
        """The labels of the encoder's positions for ``text``: its pieces, then eos if the
        model reads one (``source_ids``)."""
        pieces = tuple(self.src_tokenizer.pieces(text))
        return pieces + (EOS_PIECE,) if self.config.source_eos else pieces

    def target_ids(self, text: str) -> list[int]:
        """Target token ids of ``text`` (an expected output), without eos; empty or
        over-long text raises InputTextError."""
        return _checked_ids(self.tgt_tokenizer, text, "reference")

    def encode_texts(self, texts: list[str]):
        """EncoderMemory for a batch of texts (padded with 0)."""
        rows = [self.source_ids(t) for t in texts]
        lengths = torch.tensor([len(r) for r in rows])
        src = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
        for i, row in enumerate(rows):
            src[i, : len(row)] = torch.tensor(row)
        with torch.inference_mode():
            return self.model.encode(src.to(self.device), lengths.to(self.device))

    def encode_images(self, images: list[ImageSource | np.ndarray]):
        """EncoderMemory for a batch of pictures; returns (memory, RGB arrays)."""
        if self.checkpoint.image_preprocess is None:
            raise InputTextError("this is a translation model: give it text, not an image")
        pictures = [self._picture(image) for image in images]
        batch = torch.stack([to_tensor(p, self.checkpoint.image_preprocess) for p in pictures])
        with torch.inference_mode():
            memory = self.model.encode(batch.to(self.device))
        return memory, [np.asarray(p) for p in pictures]

    @staticmethod
    def _picture(image: ImageSource | np.ndarray):
        from PIL import Image

        if isinstance(image, np.ndarray):
            return to_rgb(Image.fromarray(image))
        return to_rgb(load_image(image))

    # -- sessions --------------------------------------------------------
    def open_session(
        self, source: str | ImageSource | np.ndarray, config: DecodeConfig
    ) -> OpenSession:
        """A step-wise decode of one text (translation) or one picture (captioning)."""
        if self.task == "translation":
            if not isinstance(source, str):
                raise InputTextError("this is a translation model: give it text, not an image")
            memory, mixing = self.encode_source(source)
            pieces = self.source_pieces(source)
            session = self._session(memory, config)
            return OpenSession(session, self.labels, source, pieces, source_mixing=mixing)
        if isinstance(source, str) and not os.path.exists(source):
            raise InputTextError("this is a captioning model: drop an image on the window")
        memory, pictures = self.encode_images([source])
        name = str(source) if isinstance(source, str | os.PathLike) else "image"
        session = self._session(memory, config)
        return OpenSession(session, self.labels, name, (), grid=memory.grid, image=pictures[0])

    def encode_source(self, text: str) -> tuple[Any, np.ndarray | None]:
        """One text's memory for a session, and the (S, S) rollout of its encoder's
        self-attention (engine/attention_layers.py): None here, as RNN and CNN encoders
        mix the source through recurrence or convolution, with no weights to roll out."""
        return self.encode_texts([text]), None

    def _session(self, memory, config: DecodeConfig) -> DecodeSession:
        return DecodeSession(self.model, memory, config)

    # -- batches (engine/batch.py) ----------------------------------------
    def translate(
        self, texts: list[str], config: DecodeConfig, *, batch_size: int = 32, cancel=None
    ) -> list[Translation]:
        """Translate ``texts`` in batches (sorted by length inside, order kept outside)."""
        return batch.translate_texts(self, texts, config, batch_size=batch_size, cancel=cancel)

    def caption(self, image: ImageSource | np.ndarray, config: DecodeConfig) -> Caption:
        """Caption one picture (path, bytes or RGB array)."""
        return batch.caption_image(self, image, config)

    def translate_file(self, src_path: str, out_path: str, config: DecodeConfig, **options):
        """Translate a file line by line (see batch.translate_file); True when complete."""
        return batch.translate_file(self, src_path, out_path, config, **options)


# "owner/name" that is no file here: a Hugging Face hub id, never downloaded
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def load_inference_model(path: str | os.PathLike, *, device: str = "auto") -> InferenceModel:
    """Load ``path`` (never unpickling) onto ``device`` ("auto": cuda when available).

    A checkpoint file gives an InferenceModel; a folder (or a hub id, to be told that
    nothing is downloaded) is a Hugging Face model folder and gives an HfInferenceModel
    (engine/hf/inference.py; transformers is imported only then).
    """
    target = pick_device(device)
    if os.path.isdir(path) or _is_hub_id(path):
        from attnscope.engine.hf.inference import load_hf_inference_model

        return load_hf_inference_model(path, target)
    try:
        checkpoint = load_checkpoint(path, device=str(target))
    except CheckpointError as exc:
        hint = folder_hint(path)
        if hint is None:
            raise
        raise CheckpointError(f"{hint} ({exc})") from exc  # what to do first, then why
    return InferenceModel(checkpoint, target)


def folder_hint(path: str | os.PathLike) -> str | None:
    """What to say when ``path`` is a file inside a Hugging Face model folder (its
    model.safetensors given alone): the folder to open instead; None otherwise."""
    folder = Path(path).parent
    if not (folder / "config.json").is_file():
        return None
    return (
        f"{Path(path).name} is part of a Hugging Face model folder: open the folder "
        f"{display_path(folder)} instead"
    )


def _is_hub_id(path: str | os.PathLike) -> bool:
    text = str(path)
    return (
        not os.path.exists(text)
        and _HUB_ID.fullmatch(text) is not None
        and not text.lower().endswith(_CHECKPOINT_SUFFIXES)
    )


__all__ = [
    "Caption",
    "DecodeCancelled",
    "InferenceModel",
    "ModelSummary",
    "NoModelError",
    "OpenSession",
    "SessionSnapshot",
    "TokenStep",
    "Translation",
    "load_inference_model",
]
