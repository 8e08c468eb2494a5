"""The decode record: the one place a decode becomes JSON-ready data.

Every writer of a decode as data goes through here: ``attnscope translate
--json`` and ``caption --json`` (one record per line), File > Export > Whole
decode and the caption exporter (one record per file). The record's fields,
array axes and versioning rules are in docs/decode-record.md; its JSON Schema
ships beside this module (``decode_record.schema.json``, see ``load_schema``).

Three builders, all keyword-only after the decode itself, all returning a
JSON-ready ``dict`` (``to_jsonable`` already applied):

- ``snapshot_record(snapshot, ...)``: a ``SessionSnapshot`` the app shows (steps
  with their top-k candidates, attention, optionally the beam tree and a
  reference check);
- ``translation_record(translation, ...)`` / ``caption_record(caption, ...)``:
  the batch results the command line prints;
- ``no_decode_record(...)``: an input that produced no decode (an empty line,
  or an input the model refused, with ``error``).

A later feature adds an optional field to the record (documented, in the
schema) without changing ``RECORD_VERSION``; renaming, removing or changing
the meaning of a field bumps it. Version 2 gave ``attention`` (and the tree's)
a layer axis: (T, layers, heads, S), (T, layers, heads, h, w) for a picture;
a decode holds it as (T, layers · heads, S) layer-major, and models with one
attention a step (the RNN decoders) have layers = 1. ``upgrade_record`` reads
a version 1 record as version 2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from attnscope.engine.attention_layers import split
from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.inference_results import Caption, SessionSnapshot, Translation
from attnscope.engine.json_ready import json_line as json_line  # writers import it from here
from attnscope.engine.json_ready import to_jsonable

RECORD_FORMAT = "attnscope.decode"
RECORD_VERSION = 2
SCHEMA_FILE = "decode_record.schema.json"

TRANSLATION = "translation"
CAPTIONING = "captioning"
_TEXT_FIELD = {TRANSLATION: "translation", CAPTIONING: "caption"}  # task -> output field

Settings = DecodeConfig | Mapping[str, Any]  # a record's ``settings``: the config or its dict


# -- the schema -------------------------------------------------------------------------------
@functools.cache
def _schema_text() -> str:
    return resources.files("attnscope.engine").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The record's JSON Schema (draft 2020-12), a fresh dict each call."""
    return json.loads(_schema_text())


def upgrade_record(record: Any) -> Any:
    """A version 1 record read as version 2: its ``attention`` (and the tree's) gains a layer
    axis of size 1, the one attention a step that every version 1 model had. Anything else
    comes back as it is (the caller checks it)."""
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return record
    if record.get("version") != 1:
        return record
    upgraded = {**record, "version": RECORD_VERSION}
    if isinstance(record.get("attention"), list):
        upgraded["attention"] = [[step] for step in record["attention"]]  # (T, 1, heads, …)
    tree = record.get("tree")
    if isinstance(tree, dict) and isinstance(tree.get("attention"), list):
        upgraded["tree"] = {**tree, "attention": [[node] for node in tree["attention"]]}
    return upgraded


# -- builders ---------------------------------------------------------------------------------
def snapshot_record(
    snapshot: SessionSnapshot,
    *,
    model: str | os.PathLike | None = None,
    settings: Settings | None = None,
    reference: str | None = None,
    report: Any = None,
    image: str | None = None,
    image_path: str | os.PathLike | None = None,
    align: bool = True,
    include_tree: bool = False,
    attributions: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The record of a decode the app shows: what File > Export > Whole decode writes.

    snapshot:     the view record; a captioning one is told by its ``grid``
    model:        the checkpoint's path (ModelSummary.path)
    settings:     the DecodeConfig (or its dict) the shown decode used; None when
                  there is none (a forced reference session) -> ``{}``
    reference:    the reference text of a reference check, with its ``report``
                  (engine.reference.ReferenceReport) -> ``reference_check``
    image:        the picture's display name (captioning; default: the file
                  name of ``image_path`` or of the snapshot's source)
    image_path:   the picture's path (captioning; default: the snapshot's source)
    align:        add ``alignment`` (Pharaoh word links) for a text decode
    include_tree: add the beam search ``tree`` (beam only; its node attention
                  makes the record a lot larger)
    attributions: the steps explained so far (``attribution_entry``), one entry per
                  method and foil -> ``attributions`` (left out when there are none)
    """
    captioning = snapshot.grid is not None
    task = CAPTIONING if captioning else TRANSLATION
    pieces = tuple(snapshot.target_pieces)
    record = _header(task, model, settings)
    record.update(
        source=str(image_path if image_path is not None else snapshot.source_text),
        **{_TEXT_FIELD[task]: snapshot.target_text},
        pieces=pieces,
        log_prob=float(sum(step.log_prob for step in snapshot.steps)),
        done=bool(snapshot.done),
        steps=[_step(step) for step in snapshot.steps],
        attention=_attention(snapshot.attention, snapshot.grid, snapshot.num_layers),
    )
    if snapshot.source_mixing is not None:
        record["source_mixing"] = snapshot.source_mixing
    if captioning:
        record["image"] = image if image is not None else Path(record["source"]).name
        record["grid"] = snapshot.grid
    else:
        record["source_pieces"] = snapshot.source_pieces
        if align:
            record["alignment"] = _alignment(snapshot.attention, snapshot.source_pieces, pieces)
    if include_tree and snapshot.tree is not None:
        record["tree"] = _tree(snapshot)
    if report is not None:
        record["reference_check"] = {"reference": reference, **report.as_dict()}
    if attributions:
        record["attributions"] = [dict(entry) for entry in attributions]
    return to_jsonable(record)


def attribution_entry(
    method: str, steps: Sequence[int], scores: np.ndarray, foil: int | None = None
) -> dict[str, Any]:
    """One method's attributions of a decode, for ``snapshot_record(attributions=...)``.

    method: engine/explain's method name; foil: the contrastive foil's token id or None
    (log p(token)); steps: the explained steps (0-based); scores: (len(steps), S) per
    source piece, or per grid cell row-major for a picture (engine/explain Attribution).
    """
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2 or scores.shape[0] != len(steps):
        raise ValueError(f"scores must be (len(steps), S); got {scores.shape} for {len(steps)}")
    return {"method": method, "foil": foil, "steps": [int(s) for s in steps], "scores": scores}


def translation_record(
    translation: Translation,
    *,
    model: str | os.PathLike | None = None,
    settings: Settings | None = None,
    align: bool = False,
    flags: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """The record of one batch translation: what ``attnscope translate --json`` prints.

    align: add ``alignment`` (Pharaoh word links; None without attention).
    flags: add ``flags``, the breakpoint hits of ``translate --flag``
           (engine.debugger.breakpoints.BreakpointHit: step, condition, message).
    """
    record = _header(TRANSLATION, model, settings)
    record.update(
        source=translation.source,
        translation=translation.text,
        source_pieces=translation.source_pieces,
        pieces=translation.pieces,
        score=translation.score,
        log_prob=translation.log_prob,
        nbest=[{"translation": text, "score": score} for text, score in translation.nbest],
        attention=_attention(translation.attention, None, translation.num_layers),
    )
    record.update(_command_line_names(translation.pieces, translation.source_pieces))
    if translation.token_log_probs is not None:
        record["step_scores"] = _step_scores(translation)
    if align:
        record["alignment"] = _alignment(
            translation.attention, translation.source_pieces, translation.pieces
        )
    if flags is not None:
        record["flags"] = [
            {"step": hit.step, "condition": hit.condition, "message": hit.message} for hit in flags
        ]
    return to_jsonable(record)


def caption_record(
    caption: Caption,
    *,
    source: str | os.PathLike | None = None,
    model: str | os.PathLike | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The record of one picture's caption: what ``attnscope caption --json`` prints.

    source: the picture's path (None for pixels that came from no file)
    """
    record = _header(CAPTIONING, model, settings)
    record.update(
        source=None if source is None else os.fspath(source),
        image=None if source is None else Path(source).name,
        caption=caption.text,
        pieces=caption.pieces,
        score=caption.score,
        grid=caption.grid,
        attention=_attention(caption.attention, caption.grid, caption.num_layers),
    )
    record.update(_command_line_names(caption.pieces, None))
    return to_jsonable(record)


def no_decode_record(
    *,
    task: str,
    source: str | os.PathLike | None,
    error: str | None = None,
    model: str | os.PathLike | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The record of an input with no decode: an empty line (``error`` None: empty output)
    or an input the model refused (``error`` says why; no output fields)."""
    if task not in _TEXT_FIELD:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(_TEXT_FIELD)}")
    record = _header(task, model, settings)
    record["source"] = None if source is None else os.fspath(source)
    if task == CAPTIONING and source is not None:
        record["image"] = Path(source).name
    if error is not None:
        record["error"] = error
    else:
        record.update({_TEXT_FIELD[task]: "", "pieces": [], "attention": None})
    return to_jsonable(record)


def _command_line_names(pieces, source_pieces) -> dict[str, Any]:
    """``tokens`` / ``source_tokens``: what the CLI called the pieces before the record had a
    version; kept beside ``pieces`` so scripts written then still work."""
    names = {"tokens": pieces}
    if source_pieces is not None:
        names["source_tokens"] = source_pieces
    return names


# -- parts --------------------------------------------------------------------------------------
def _header(task: str, model: str | os.PathLike | None, settings: Settings | None) -> dict:
    return {
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "task": task,
        "model": None if model is None else os.fspath(model),
        "settings": _settings(settings),
    }


def _settings(settings: Settings | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return dataclasses.asdict(settings)
    if isinstance(settings, Mapping):
        return dict(settings)
    raise ValueError(
        f"settings must be a DecodeConfig or a mapping, got a {type(settings).__name__}"
    )


def _step(step) -> dict[str, Any]:
    """One TokenStep: the chosen token, its step scores and the candidates the model
    weighed (the entropy of their distribution when the decode recorded it; the margin
    when at least two candidates were listed)."""
    entropy = {} if step.entropy is None else {"entropy": step.entropy}
    margin = {} if step.margin is None else {"margin": step.margin}
    return {
        **entropy,
        "token_id": step.token_id,
        "piece": step.piece,
        "log_prob": step.log_prob,
        "probability": step.probability,
        "surprisal": step.surprisal,
        **margin,
        "forced": step.forced,
        "topk": [
            {"token_id": int(i), "piece": p, "prob": float(q)}
            for i, p, q in zip(step.topk_ids, step.topk_pieces, step.topk_probs, strict=True)
        ],
    }


def _step_scores(translation: Translation) -> dict[str, Any]:
    """Per-step scores of a batch translation, one (T,) array each; ``entropy`` and
    ``margin`` are null when the decode did not record them."""
    log_probs = np.asarray(translation.token_log_probs, dtype=np.float32)
    return {
        "probability": np.exp(log_probs),
        "entropy": translation.entropies,
        "surprisal": -log_probs,
        "margin": translation.margins,
    }


def _attention(
    attention: np.ndarray | None, grid: tuple[int, int] | None, layers: int
) -> np.ndarray | None:
    """A decode's (T, layers · heads, S) layer-major rows (or (T, layers · heads, h, w) for a
    caption) -> (T, layers, heads, S) for text, (T, layers, heads, h, w) for a picture of
    ``grid`` cells."""
    if attention is None:
        return None
    attention = np.asarray(attention)
    cells = int(np.prod(attention.shape[2:], dtype=np.int64))
    layered = split(attention.reshape(*attention.shape[:2], cells), layers)  # (T, L, H, S)
    return layered if grid is None else layered.reshape(*layered.shape[:3], *grid)


def _alignment(attention, source_pieces, target_pieces) -> str | None:
    """Pharaoh word links read off the attention, None without attention."""
    from attnscope.engine.alignment import hard_alignment, pharaoh

    if attention is None or not source_pieces:
        return None
    return pharaoh(hard_alignment(attention, tuple(source_pieces), tuple(target_pieces)))


def _tree(snapshot: SessionSnapshot) -> dict[str, Any]:
    """The beam search tree column by column (index = node id), as SearchTree has it."""
    tree = snapshot.tree
    columns = ("parent_ids", "tokens", "scores", "steps", "finished", "pruned", "nbest_rank")
    out: dict[str, Any] = {name: getattr(tree, name) for name in columns}
    out["final_scores"] = tree.final_scores  # NaN (-> null) for unfinished nodes
    out["pieces"] = snapshot.node_pieces
    out["best_node"] = snapshot.best_node
    out["attention"] = _attention(snapshot.node_attention, snapshot.grid, snapshot.num_layers)
    return out
