"""A training run's folder, read for comparison across epochs: ``load_run(folder)``.

``attnscope train`` writes into its ``run.out_dir`` the epoch checkpoints that
``run.keep_epochs`` keeps (``epoch-NNN.safetensors``, engine/training/trainer.py),
``last.safetensors`` and ``metrics.jsonl`` (one ``{"event": "epoch", ...}`` record per
epoch: ``val_loss``, ``bleu`` or ``cider``, ``train_loss``, ...; engine/training/callbacks.py).
``load_run`` lists them without building a model: each epoch file's header is read and
checked (engine/checkpoint_format.py), so a whole run opens in milliseconds; the weights
are loaded one epoch at a time when an input is traced (engine/compare/epochs.py).

A file that cannot be used is left out with one message in ``RunFolder.skipped``, never
raised: a name that points nowhere (a dangling link) or at no regular file, a corrupt or truncated file, a
checkpoint of another run (another task, model config or tokenizer than the run's own
``last.safetensors``, else than most of its epochs), or one whose recorded epoch is not
the one in its name. Bad lines of metrics.jsonl are skipped the same way. Epochs that
metrics.jsonl lists but whose weights were not kept are named in ``missing_epochs``. A
folder with no usable epoch file raises ``RunFolderError``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attnscope.engine.bounded_json import loads_bounded
from attnscope.engine.checkpoint_format import check_file, contents_from_metadata, read_header
from attnscope.engine.errors import AttnScopeError, CheckpointError, DataError
from attnscope.engine.input_files import display_path, read_text_lines, special_file_kind
from attnscope.engine.training.epoch_files import EPOCH_FILE

METRICS_FILE = "metrics.jsonl"  # engine/training/run.py
LAST_FILE = "last.safetensors"  # engine/training/trainer.py
MAX_METRICS_BYTES = 64 * 1024 * 1024  # a metrics log of ~100k records; more is not a run's
MAX_EPOCH_FILES = 1000  # epoch files read (the newest); older ones beyond are skipped


class RunFolderError(AttnScopeError, ValueError):
    """A run folder cannot be compared across epochs: not a folder, or no usable epoch."""


@dataclass(frozen=True)
class EpochCheckpoint:
    """One kept epoch: its number (1-based, as in the file name) and file."""

    epoch: int
    path: Path


@dataclass(frozen=True)
class RunFolder:
    """The usable epochs of one run, its per-epoch metrics, and what was left out.

    epochs:         by epoch number, at least one
    metrics:        the epoch records of metrics.jsonl, by epoch (may be empty)
    skipped:        one message per file or metrics line left out
    missing_epochs: epochs metrics.jsonl records whose weights the folder lacks
    """

    folder: Path
    epochs: tuple[EpochCheckpoint, ...]
    metrics: tuple[dict[str, Any], ...] = ()
    skipped: tuple[str, ...] = ()
    missing_epochs: tuple[int, ...] = ()

    @property
    def final(self) -> EpochCheckpoint:
        return self.epochs[-1]

    def metric_names(self) -> tuple[str, ...]:
        """The numeric per-epoch metrics recorded (``val_loss``, ``bleu``, ...), sorted."""
        names = {
            key
            for record in self.metrics
            for key, value in record.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        return tuple(sorted(names - {"epoch", "step", "time"}))

    def metric(self, name: str) -> tuple[tuple[int, float], ...]:
        """(epoch, value) of metric ``name`` for every epoch that records it."""
        return tuple(
            (int(record["epoch"]), float(record[name]))
            for record in self.metrics
            if isinstance(record.get(name), int | float) and not isinstance(record[name], bool)
        )


def load_run(folder: str | Path) -> RunFolder:
    """The run in ``folder``: its usable epoch files (headers checked) and metrics.

    Raises RunFolderError when ``folder`` is not a folder or holds no usable epoch file
    (the message lists what was skipped and why).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"{display_path(folder)} is not a folder of a training run")
    skipped: list[str] = []
    identities: dict[int, tuple[EpochCheckpoint, str]] = {}
    named = sorted(
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if (match := EPOCH_FILE.match(path.name)) is not None
    )
    if len(named) > MAX_EPOCH_FILES:
        skipped.append(
            f"{len(named) - MAX_EPOCH_FILES} epoch files before the newest {MAX_EPOCH_FILES} "
            "skipped: more than a run keeps"
        )
    for epoch, path in named[-MAX_EPOCH_FILES:]:
        try:
            identities[epoch] = (EpochCheckpoint(epoch, path), _identity(path, epoch))
        except (CheckpointError, DataError, OSError) as exc:
            skipped.append(f"{path.name} skipped: {_reason(exc, path)}")
    own = _run_identity(folder, [identity for _, identity in identities.values()])
    epochs = []
    for _, (checkpoint, identity) in sorted(identities.items()):
        if identity != own:
            skipped.append(
                f"{checkpoint.path.name} skipped: it is from another run (its model or "
                "tokenizers differ from the run's)"
            )
        else:
            epochs.append(checkpoint)
    skipped.sort()  # by file name, i.e. by epoch
    metrics = _read_metrics(folder / METRICS_FILE, skipped)
    if not epochs:
        reasons = f" ({'; '.join(skipped)})" if skipped else ""
        raise RunFolderError(
            f"{display_path(folder)} holds no usable epoch-NNN.safetensors{reasons}; train "
            "with run.keep_epochs (the default keeps them within a disk budget)"
        )
    kept = {checkpoint.epoch for checkpoint in epochs}
    missing = sorted({int(r["epoch"]) for r in metrics} - kept)
    return RunFolder(folder, tuple(epochs), tuple(metrics), tuple(skipped), tuple(missing))


def _reason(exc: Exception, path: Path) -> str:
    """The error's message without the file name it starts with (the caller names it)."""
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _identity(path: Path, epoch: int | None) -> str:
    """A digest of what makes a checkpoint part of a run: task, model config, tokenizers.

    Reads the header only. CheckpointError for a missing or corrupt file, or one whose
    recorded epoch is not ``epoch`` (None: any).
    """
    kind = special_file_kind(path)  # a dangling link reads "a broken symbolic link (to …)"
    if kind is not None:
        raise CheckpointError(f"{path}: it is {kind}, not a checkpoint file")
    header, meta, _ = read_header(path, check_file(path))
    del header  # the tensors are checked when the epoch is loaded
    contents = contents_from_metadata(path, meta)
    recorded = contents.info.get("epoch")
    if epoch is not None and isinstance(recorded, int) and recorded != epoch:
        raise CheckpointError(f"{path}: it holds epoch {recorded}'s weights, not epoch {epoch}'s")
    digest = hashlib.sha256(repr(sorted(contents.config.to_dict().items())).encode())
    digest.update(contents.tgt_tokenizer.to_bytes())
    if contents.src_tokenizer is not None:
        digest.update(contents.src_tokenizer.to_bytes())
    return digest.hexdigest()


def _run_identity(folder: Path, identities: list[str]) -> str | None:
    """The run's own identity: its last.safetensors', else the most common epoch's
    (the newest among equals)."""
    last = folder / LAST_FILE
    if last.is_file():
        try:
            return _identity(last, epoch=None)
        except (CheckpointError, DataError, OSError):
            pass  # a broken last checkpoint: the epochs decide
    if not identities:
        return None
    counts = Counter(identities)
    return max(reversed(identities), key=lambda identity: counts[identity])


def _read_metrics(path: Path, skipped: list[str]) -> list[dict[str, Any]]:
    """The epoch records of metrics.jsonl, one per epoch (the last written wins: a
    resumed run rewrites its epochs), by epoch; bad lines are noted in ``skipped``."""
    if not path.exists():
        skipped.append(f"{METRICS_FILE}: not in the folder (no per-epoch metrics)")
        return []
    try:
        lines = read_text_lines(path, max_bytes=MAX_METRICS_BYTES, what="metrics log").lines
    except DataError as exc:
        skipped.append(f"{METRICS_FILE} skipped: {exc}")
        return []
    by_epoch: dict[int, dict[str, Any]] = {}
    bad = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = loads_bounded(line)
        except ValueError:
            bad.append(number)
            continue
        if not isinstance(record, dict) or record.get("event") != "epoch":
            continue
        epoch = record.get("epoch")
        if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch > 0:
            by_epoch[epoch] = record
        else:
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" …" if len(bad) > 5 else "")
        skipped.append(f"{METRICS_FILE}: {len(bad)} unreadable line(s) skipped (line {shown})")
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]
