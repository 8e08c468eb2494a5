"""Whole batches through a loaded model: texts, one picture, a text file.

Each function takes an ``InferenceModel`` (engine/inference.py) and runs the one
decode loop (``decode``) over a batch; nothing here steps a session. The results
are plain data (``Translation``, ``Caption``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from attnscope.engine.decoding import EOS_ID, DecodeConfig, decode, is_cancelled
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.errors import DecodeCancelled, InputTextError
from attnscope.engine.images import ImageSource
from attnscope.engine.inference_results import Caption, Translation
from attnscope.engine.input_files import check_output_path, display_path, read_text_lines
from attnscope.engine.pieces import EOS_PIECE

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel

log = logging.getLogger(__name__)


def translate_texts(
    model: InferenceModel,
    texts: list[str],
    config: DecodeConfig,
    *,
    batch_size: int = 32,
    cancel: CancelFlag | None = None,
) -> list[Translation]:
    """Translate ``texts`` in batches (sorted by length inside, order kept outside)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[Translation | None] = [None] * len(texts)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        translations = _translate_chunk(model, [texts[i] for i in chunk], config, cancel)
        for index, translation in zip(chunk, translations, strict=True):
            out[index] = translation
    return out  # type: ignore[return-value]


def _translate_chunk(
    model: InferenceModel, texts: list[str], config: DecodeConfig, cancel: CancelFlag | None
) -> Iterator[Translation]:
    memory = model.encode_texts(texts)
    with torch.inference_mode():
        results = decode(model.model, memory, config, cancel=cancel)  # checked every step
    detokenize = model.tgt_tokenizer.decode
    for text, result in zip(texts, results, strict=True):
        best = result.best
        nbest = tuple(
            (detokenize([t for t in h.tokens if t != EOS_ID]), float(h.score))
            for h in result.hypotheses
        )
        yield Translation(
            source=text,
            text=detokenize([t for t in best.tokens if t != EOS_ID]),
            pieces=tuple(model.piece(t) for t in best.tokens),
            score=float(best.score),
            attention=best.attention,
            source_pieces=tuple(model.src_tokenizer.pieces(text)) + (EOS_PIECE,),
            nbest=nbest,
            log_prob=float(best.log_prob),
            token_ids=best.tokens,
            token_log_probs=best.token_log_probs,
            entropies=best.entropies,
        )


def caption_image(
    model: InferenceModel, image: ImageSource | np.ndarray, config: DecodeConfig
) -> Caption:
    """Caption one picture (path, bytes or RGB array); attention (T, heads, h, w)."""
    memory, _ = model.encode_images([image])
    with torch.inference_mode():
        (result,) = decode(model.model, memory, config)
    best = result.best
    h, w = memory.grid
    attention = None
    if best.attention is not None:
        attention = best.attention.reshape(len(best.tokens), -1, h, w)
    return Caption(
        text=model.tgt_tokenizer.decode([t for t in best.tokens if t != EOS_ID]),
        pieces=tuple(model.piece(t) for t in best.tokens),
        score=float(best.score),
        grid=(h, w),
        attention=attention,
    )


def translate_file(
    model: InferenceModel,
    src_path: str,
    out_path: str,
    config: DecodeConfig,
    *,
    cancel: CancelFlag | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 32,
) -> bool:
    """Translate a file line by line; True when complete.

    Lines go to ``out_path + ".partial"`` as they finish and the file is
    renamed to ``out_path`` only at the end, so a stopped run never leaves
    a silently truncated output. Empty lines stay empty.
    """
    check_output_path(out_path, "output file")  # a missing folder: one message, no work
    text = read_text_lines(src_path, what="source file")  # newline-only, bounded
    if text.replaced:
        log.warning("%s", text.replaced_note(display_path(src_path)))
    lines = text.lines
    partial = Path(out_path + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for start in range(0, len(lines), batch_size):
            chunk = lines[start : start + batch_size]
            try:
                if is_cancelled(cancel):
                    raise DecodeCancelled(f"stopped before line {start + 1}")
                texts = _translate_lines(model, chunk, config, cancel)
            except DecodeCancelled:
                log.info("batch translation stopped in lines %d.. of %d", start, len(lines))
                return False
            handle.write("".join(text + "\n" for text in texts))
            handle.flush()
            if progress is not None:
                progress(min(start + batch_size, len(lines)), len(lines))
    os.replace(partial, out_path)
    return True


def _translate_lines(
    model: InferenceModel, lines: list[str], config: DecodeConfig, cancel: CancelFlag | None
) -> list[str]:
    """Translations of ``lines``; empty lines stay empty, bad lines become a marker."""
    wanted = [i for i, line in enumerate(lines) if line.strip()]
    texts = [""] * len(lines)
    try:
        translated = translate_texts(model, [lines[i] for i in wanted], config, cancel=cancel)
        for i, t in zip(wanted, translated, strict=True):
            texts[i] = t.text
    except InputTextError:
        for i in wanted:  # retry one by one so one bad line costs only itself
            try:
                texts[i] = translate_texts(model, [lines[i]], config)[0].text
            except InputTextError as exc:
                texts[i] = f"[not translated: {exc}]"
    return texts
