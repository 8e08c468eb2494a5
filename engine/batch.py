"""Whole batches through a loaded model: texts, one picture, a text file.

Each function takes an ``InferenceModel`` (engine/inference.py) and runs the one
decode loop (``decode``) over a batch; nothing here steps a session. The results
are plain data (``Translation``, ``Caption``).

Many lines (a file, ``attnscope translate``, ``evaluate``, ``score``) are decoded
by ``translate_windows``: the input is cut into windows of ``SORT_WINDOW`` lines,
each window's lines are sorted by source length into batches (as OpenNMT-py and
Marian batch), and the window's outcomes come back in input order as soon as
the window is done. On Multi30k's val.de (1014 lines) batches of 32 cut in file
order are 51 % real source tokens, cut from a sorted window of 1024 lines 97 %
(``benchmarks/sorted_batches.py``), though that padding costs little time
here (the additive scorer skips padded positions and a finished sentence
leaves its batch; benchmarks/README.md has the timing). A window bounds what
an interrupted run loses: every finished window has been written.

A sentence's decode does not depend on its batch-mates except through float
rounding: the matrix products of a batch of another size or composition may
round differently in the last bits (scores differ by ~1e-6), which can in rare
near-ties pick another token. On val.de with the default model (beam 5) every
text was the same, file order or sorted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from attnscope.engine.decoding import EOS_ID, DecodeConfig, decode, is_cancelled
from attnscope.engine.decoding.step_loop import CancelFlag
from attnscope.engine.errors import AttnScopeError, DecodeCancelled
from attnscope.engine.images import ImageSource
from attnscope.engine.inference_results import Caption, Translation, hypothesis_margins
from attnscope.engine.input_files import check_output_path, display_path, read_text_lines

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel

log = logging.getLogger(__name__)

SORT_WINDOW = 1024  # lines sorted by length together; all of val.de (1014 lines) is one


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
            source_pieces=model.source_pieces(text),
            nbest=nbest,
            log_prob=float(best.log_prob),
            token_ids=best.tokens,
            token_log_probs=best.token_log_probs,
            entropies=best.entropies,
            margins=hypothesis_margins(result, best),
            num_layers=model.labels.num_layers,
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
        num_layers=model.labels.num_layers,
    )


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Positions ``0..len(lengths)-1`` in batches of ``batch_size``, sorted by length.

    The sort is stable (equal lengths keep input order), so the batches are the
    same on every run.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def translate_windows(
    model: InferenceModel,
    lines: Sequence[str],
    config: DecodeConfig,
    *,
    batch_size: int = 32,
    window: int | None = None,
    cancel: CancelFlag | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Iterator[list[object]]:
    """Per window of ``window`` lines (default ``SORT_WINDOW``), in input order, one
    outcome per line.

    An outcome is the line's ``Translation``, the ``AttnScopeError`` that refused
    it (too long, nothing the tokenizer reads), or None for an empty line. A
    window's non-empty lines are decoded in batches sorted by source length
    (``length_sorted_batches``); a batch holding a refused line is decoded line
    by line so only that line fails. ``on_batch(n)`` hears of every finished
    batch (n lines). Raises DecodeCancelled when ``cancel`` is set.
    """
    window = SORT_WINDOW if window is None else window
    if window < 1 or batch_size < 1:
        raise ValueError(f"window and batch_size must be >= 1, got {window} and {batch_size}")
    for first in range(0, len(lines), window):
        chunk = lines[first : first + window]
        outcomes: list[object] = [None] * len(chunk)
        wanted = [i for i, line in enumerate(chunk) if line.strip()]
        lengths = [_source_length(model, chunk[i]) for i in wanted]
        for batch in length_sorted_batches(lengths, batch_size):
            if is_cancelled(cancel):
                raise DecodeCancelled(f"stopped in lines {first + 1}..{first + len(chunk)}")
            rows = [wanted[b] for b in batch]
            done = _translate_or_refuse(model, [chunk[i] for i in rows], config, cancel)
            for i, outcome in zip(rows, done, strict=True):
                outcomes[i] = outcome
            if on_batch is not None:
                on_batch(len(rows))
        yield outcomes


def _source_length(model: InferenceModel, text: str) -> int:
    """The sort key: source pieces of ``text`` (its characters without a tokenizer)."""
    tokenizer = model.src_tokenizer
    return len(text) if tokenizer is None else len(tokenizer.encode(text))


def _translate_or_refuse(
    model: InferenceModel, texts: list[str], config: DecodeConfig, cancel: CancelFlag | None
) -> list[object]:
    """Translations of ``texts`` as one batch; if one is refused, each alone, the refused
    ones as their AttnScopeError."""
    try:
        return list(translate_texts(model, texts, config, batch_size=len(texts), cancel=cancel))
    except DecodeCancelled:
        raise
    except AttnScopeError:
        pass
    results: list[object] = []
    for text in texts:
        try:
            results.append(translate_texts(model, [text], config, cancel=cancel)[0])
        except DecodeCancelled:
            raise
        except AttnScopeError as exc:
            results.append(exc)
    return results


def translate_file(
    model: InferenceModel,
    src_path: str,
    out_path: str,
    config: DecodeConfig,
    *,
    cancel: CancelFlag | None = None,
    progress: Callable[[int, int], None] | None = None,
    batch_size: int = 32,
    window: int | None = None,
) -> bool:
    """Translate a file line by line; True when complete.

    Lines are decoded in length-sorted batches window by window
    (``translate_windows``) and each finished window is appended to
    ``out_path + ".partial"`` in input order; the file is renamed to
    ``out_path`` only at the end, so a stopped run never leaves a silently
    truncated output: a stopped run keeps every finished window there and loses
    the unfinished window's work. Empty lines stay empty; a line the model
    refuses becomes ``[not translated: why]``. ``progress(done, total)`` follows
    every batch.
    """
    check_output_path(out_path, "output file")  # a missing folder: one message, no work
    text = read_text_lines(src_path, what="source file")  # newline-only, bounded
    if text.replaced:
        log.warning("%s", text.replaced_note(display_path(src_path)))
    lines = text.lines
    done = sum(not line.strip() for line in lines)  # empty lines need no work

    def on_batch(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, len(lines))

    partial = Path(out_path + ".partial")
    windows = translate_windows(
        model, lines, config, batch_size=batch_size, window=window, cancel=cancel, on_batch=on_batch
    )
    with partial.open("w", encoding="utf-8") as handle:
        try:
            for outcomes in windows:
                handle.write("".join(_file_line(outcome) + "\n" for outcome in outcomes))
                handle.flush()
        except DecodeCancelled as exc:
            log.info("batch translation %s of %d", exc, len(lines))
            return False
    if progress is not None:
        progress(len(lines), len(lines))
    os.replace(partial, out_path)
    return True


def _file_line(outcome: object) -> str:
    if isinstance(outcome, AttnScopeError):
        return f"[not translated: {outcome}]"
    return "" if outcome is None else outcome.text
