"""A loaded checkpoint ready to run: text or image in, sessions and batches out.

This is the one bridge the CLI and the GUI worker use. Everything it hands
out (``ModelSummary``, ``SessionSnapshot``, ``Translation``, in
engine/inference_results.py) is plain data: numpy arrays, tuples and
strings, never torch tensors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from attnscope.engine.checkpoint import Checkpoint, load_checkpoint
from attnscope.engine.decoding import EOS_ID, DecodeConfig, SearchTree, decode
from attnscope.engine.devices import available_devices, pick_device
from attnscope.engine.errors import AttnScopeError, DecodeCancelled, InputTextError
from attnscope.engine.images import ImageSource, load_image, to_rgb, to_tensor
from attnscope.engine.inference_results import (
    Caption,
    ModelSummary,
    SessionSnapshot,
    TokenStep,
    Translation,
)
from attnscope.engine.session import DecodeSession
from attnscope.engine.tokenizers import EOS_PIECE

log = logging.getLogger(__name__)

MAX_SOURCE_TOKENS = 400  # longer texts (sources, references) are refused with a message


class NoModelError(AttnScopeError):
    """A request that needs a model or a session arrived before one existed."""


@dataclass
class OpenSession:
    """A DecodeSession plus the source it decodes (text pieces or picture)."""

    session: DecodeSession
    source_text: str
    source_pieces: tuple[str, ...]
    grid: tuple[int, int] | None = None
    image: np.ndarray | None = None

    def __getattr__(self, name: str) -> Any:  # step/back/force/reset/done pass through
        return getattr(self.session, name)


def _checked_ids(tokenizer, text: str, what: str) -> list[int]:
    """Ids of ``text`` (no eos); empty, unreadable or over-long text raises
    InputTextError naming ``what`` ("source text", "reference")."""
    if not text or not text.strip():
        raise InputTextError(f"the {what} is empty")
    ids = tokenizer.encode(text)
    if not ids:
        raise InputTextError(f"the {what} has nothing the tokenizer can read")
    if len(ids) + 1 > MAX_SOURCE_TOKENS:
        raise InputTextError(
            f"the {what} is {len(ids)} tokens long; at most {MAX_SOURCE_TOKENS - 1} "
            "are taken at once (split it into sentences)"
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

    # -- description -----------------------------------------------------
    def summary(self) -> ModelSummary:
        info = dict(self.checkpoint.info or {})
        examples = tuple(info.get("examples", ()))
        path = str(self.checkpoint.path)
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

    def piece(self, token_id: int) -> str:
        return EOS_PIECE if token_id == EOS_ID else self._pieces[int(token_id)]

    # -- sources ---------------------------------------------------------
    def source_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` plus eos; empty or over-long text raises InputTextError."""
        if self.src_tokenizer is None:
            raise InputTextError("this is a captioning model: give it an image, not text")
        return [*_checked_ids(self.src_tokenizer, text, "source text"), EOS_ID]

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
            memory = self.encode_texts([source])
            pieces = tuple(self.src_tokenizer.pieces(source)) + (EOS_PIECE,)
            return OpenSession(DecodeSession(self.model, memory, config), source, pieces)
        if isinstance(source, str) and not os.path.exists(source):
            raise InputTextError("this is a captioning model: drop an image on the window")
        memory, pictures = self.encode_images([source])
        name = str(source) if isinstance(source, str | os.PathLike) else "image"
        return OpenSession(
            DecodeSession(self.model, memory, config), name, (), grid=memory.grid, image=pictures[0]
        )

    def snapshot(self, opened: OpenSession, *, step_ms: Iterable[float] = ()) -> SessionSnapshot:
        """The plain-data view of ``opened`` right now."""
        session = opened.session
        result = session.result()
        best = result.best
        history = session.history
        node_steps = _node_index(history)
        steps = []
        path = result.tree.path(best.node_id) if best.node_id > 0 else []
        for position, token in enumerate(best.tokens):
            if len(path) == len(best.tokens):
                step_result, row = node_steps[path[position]]
            else:
                step_result, row = history[position], 0
            ids = step_result.topk_ids[row]
            steps.append(
                TokenStep(
                    token_id=int(token),
                    piece=self.piece(token),
                    log_prob=float(best.token_log_probs[position]),
                    topk_ids=ids,
                    topk_probs=step_result.topk_probs[row],
                    topk_pieces=tuple(self.piece(i) for i in ids),
                    forced=bool(step_result.forced),
                )
            )
        attention = best.attention if self.model.num_heads else None
        pieces = tuple(s.piece for s in steps)
        extra = self._tree_parts(result.tree, history) if session.config.strategy == "beam" else {}
        return SessionSnapshot(
            source_text=opened.source_text,
            source_pieces=opened.source_pieces,
            target_pieces=pieces,
            target_text=self.tgt_tokenizer.decode([t for t in best.tokens if t != EOS_ID]),
            steps=tuple(steps),
            attention=attention,
            num_heads=self.model.num_heads,
            done=session.done,
            strategy=session.config.strategy,
            step_ms=tuple(step_ms),
            best_node=int(best.node_id),
            grid=opened.grid,
            image=opened.image,
            **extra,
        )

    def _tree_parts(self, tree: SearchTree, history) -> dict[str, Any]:
        pieces = tuple(self.piece(t) if i else "<s>" for i, t in enumerate(tree.tokens))
        node_attention = None
        if self.model.num_heads and history:
            heads, length = history[0].attention.shape[1:]
            node_attention = np.zeros((len(tree), heads, length), dtype=np.float32)
            for step_result in history:
                node_attention[step_result.node_ids] = step_result.attention
        return {"tree": tree, "node_pieces": pieces, "node_attention": node_attention}

    # -- batches ---------------------------------------------------------
    def translate(
        self, texts: list[str], config: DecodeConfig, *, batch_size: int = 32, cancel=None
    ) -> list[Translation]:
        """Translate ``texts`` in batches (sorted by length inside, order kept outside)."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[Translation | None] = [None] * len(texts)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            for index, translation in zip(
                chunk,
                self._translate_chunk([texts[i] for i in chunk], config, cancel),
                strict=True,
            ):
                out[index] = translation
        return out  # type: ignore[return-value]

    def _translate_chunk(
        self, texts: list[str], config: DecodeConfig, cancel=None
    ) -> Iterator[Translation]:
        memory = self.encode_texts(texts)
        with torch.inference_mode():
            results = decode(self.model, memory, config, cancel=cancel)  # checked every step
        for text, result in zip(texts, results, strict=True):
            best = result.best
            tokens = [t for t in best.tokens if t != EOS_ID]
            nbest = tuple(
                (self.tgt_tokenizer.decode([t for t in h.tokens if t != EOS_ID]), float(h.score))
                for h in result.hypotheses
            )
            yield Translation(
                source=text,
                text=self.tgt_tokenizer.decode(tokens),
                pieces=tuple(self.piece(t) for t in best.tokens),
                score=float(best.score),
                attention=best.attention,
                source_pieces=tuple(self.src_tokenizer.pieces(text)) + (EOS_PIECE,),
                nbest=nbest,
                log_prob=float(best.log_prob),
            )

    def caption(self, image: ImageSource | np.ndarray, config: DecodeConfig) -> Caption:
        """Caption one picture (path, bytes or RGB array)."""
        memory, _ = self.encode_images([image])
        with torch.inference_mode():
            (result,) = decode(self.model, memory, config)
        best = result.best
        h, w = memory.grid
        attention = None
        if best.attention is not None:
            attention = best.attention.reshape(len(best.tokens), -1, h, w)
        return Caption(
            text=self.tgt_tokenizer.decode([t for t in best.tokens if t != EOS_ID]),
            pieces=tuple(self.piece(t) for t in best.tokens),
            score=float(best.score),
            grid=(h, w),
            attention=attention,
        )

    def translate_file(
        self,
        src_path: str,
        out_path: str,
        config: DecodeConfig,
        *,
        cancel=None,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 32,
    ) -> bool:
        """Translate a file line by line; True when complete.

        Lines go to ``out_path + ".partial"`` as they finish and the file is
        renamed to ``out_path`` only at the end, so a stopped run never leaves
        a silently truncated output. Empty lines stay empty.
        """
        lines = Path(src_path).read_text(encoding="utf-8").splitlines()
        partial = Path(out_path + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for start in range(0, len(lines), batch_size):
                if cancel is not None and cancel.is_set():
                    log.info("batch translation stopped after %d of %d lines", start, len(lines))
                    return False
                chunk = lines[start : start + batch_size]
                try:
                    texts = self._translate_lines(chunk, config, cancel)
                except DecodeCancelled:
                    log.info("batch translation stopped inside lines %d..", start)
                    return False
                handle.write("".join(text + "\n" for text in texts))
                handle.flush()
                if progress is not None:
                    progress(min(start + batch_size, len(lines)), len(lines))
        os.replace(partial, out_path)
        return True

    def _translate_lines(self, lines: list[str], config: DecodeConfig, cancel=None) -> list[str]:
        """Translations of ``lines``; empty lines stay empty, bad lines become a marker."""
        wanted = [i for i, line in enumerate(lines) if line.strip()]
        texts = [""] * len(lines)
        try:
            for i, t in zip(
                wanted,
                self.translate([lines[i] for i in wanted], config, cancel=cancel),
                strict=True,
            ):
                texts[i] = t.text
        except InputTextError:
            for i in wanted:  # retry one by one so one bad line costs only itself
                try:
                    texts[i] = self.translate([lines[i]], config)[0].text
                except InputTextError as exc:
                    texts[i] = f"[not translated: {exc}]"
        return texts


def _node_index(history) -> dict[int, tuple[Any, int]]:
    """node id -> (StepResult that created it, row in that StepResult)."""
    index = {}
    for step_result in history:
        for row, node in enumerate(step_result.node_ids):
            index[int(node)] = (step_result, row)
    return index


def load_inference_model(path: str | os.PathLike, *, device: str = "auto") -> InferenceModel:
    """Load ``path`` (never unpickling) onto ``device`` ("auto": cuda when available)."""
    target = pick_device(device)
    checkpoint = load_checkpoint(path, device=str(target))
    return InferenceModel(checkpoint, target)


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
