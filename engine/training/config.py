"""``TrainConfig``: every setting of a training run, frozen, validated once.

A run is described by five sections, which are also the tables of a TOML
config file (``attnscope train --config run.toml``)::

    [data]      where the examples come from, length limits, batch size
    [vocab]     sentencepiece vocabularies trained on the training text
    [model]     overrides of the task's default ModelConfig (nested tables:
                [model.text_encoder], [model.attention], [model.decoder], ...)
    [optim]     optimizer, loss and learning-rate schedule
    [run]       epochs, checkpoints, resuming, logging, device, seed

Precedence: built-in defaults < TOML file < command-line flags.
Library code receives a ``TrainConfig`` only, never an argparse Namespace.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from attnscope.engine.languages import language_entries
from attnscope.engine.training.batching import BatchingConfig
from attnscope.engine.training.schedules import SCHEDULE_SHAPES, ScheduleConfig
from attnscope.models.config import TASKS, ModelConfig, replace_nested

OPTIMIZERS = ("adam", "adamw")
VOCAB_MODEL_TYPES = ("bpe", "unigram")
BEST_METRICS = ("auto", "loss", "bleu", "cider")
STORAGE_DTYPE_NAMES = ("float32", "float16", "bfloat16")

# settings that name files or folders: a checkpoint records them relative to the config
# file, or by their last component (engine/checkpoint_info.portable_paths)
PATH_SETTINGS = frozenset(
    {
        "src_train",
        "tgt_train",
        "src_val",
        "tgt_val",
        "pairs_train",
        "pairs_val",
        "images",
        "captions",
        "split_file",
        "out_dir",
        "trunk_weights",
    }
)

# Per-task starting points for the model; [model] / flags override them.
TASK_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "translation": {"task": "translation"},
    "captioning": {
        "task": "captioning",
        "decoder": {"cell": "lstm", "hidden": 512},
        "image_encoder": {"backbone": "resnet18", "grid": (7, 7)},
    },
}


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")


@dataclass(frozen=True)
class DataConfig:
    """Where examples come from and how they are filtered and batched."""

    task: str = "translation"
    # translation: line-aligned files ...
    src_train: str | None = None
    tgt_train: str | None = None
    src_val: str | None = None
    tgt_val: str | None = None
    # ... or TSV files of pairs (e.g. Tatoeba: English<TAB>Chinese<TAB>attribution)
    pairs_train: str | None = None
    pairs_val: str | None = None
    source_column: int = 0
    target_column: int = 1
    val_size: int = 0  # hold out this many training pairs/images when no validation data
    # captioning
    images: str | None = None
    captions: str | None = None
    split_file: str | None = None
    train_splits: tuple[str, ...] = ("train",)
    val_splits: tuple[str, ...] = ("dev",)
    # filtering and batching
    max_src_tokens: int = 80
    max_tgt_tokens: int = 80
    batch_size: int = 64
    batch_tokens: int = 0
    max_val_examples: int = 0  # decode at most this many for BLEU/CIDEr (0 = all)
    # ISO 639 codes the checkpoint records ("de", "en"); a captioner has no source language
    src_lang: str | None = None
    tgt_lang: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; valid: {', '.join(TASKS)}")
        language_entries(self.task, self.src_lang, self.tgt_lang)  # checks the codes
        if self.task == "translation":
            self._check_translation()
        elif not (self.images and self.captions):
            raise ValueError("captioning needs --images DIR and --captions FILE")
        for name in ("max_src_tokens", "max_tgt_tokens", "batch_size"):
            _positive(name, getattr(self, name))
        for name in ("batch_tokens", "val_size", "max_val_examples"):
            _positive(name, getattr(self, name), allow_zero=True)

    def _check_translation(self) -> None:
        files = bool(self.src_train and self.tgt_train)
        if files == bool(self.pairs_train):
            raise ValueError(
                "translation needs training data: either --src-train and --tgt-train, "
                "or --pairs-train (a TSV), not both"
            )
        if bool(self.src_val) != bool(self.tgt_val):
            raise ValueError("give both --src-val and --tgt-val, or neither")

    @property
    def batching(self) -> BatchingConfig:
        return BatchingConfig(batch_size=self.batch_size, batch_tokens=self.batch_tokens)


@dataclass(frozen=True)
class VocabConfig:
    """Sentencepiece vocabularies trained on the training text, stored in the checkpoint.

    ``size`` is the vocabulary size of both sides (or of the joint vocabulary
    when ``shared``); ``src_size`` / ``tgt_size`` override it per side. Sizes
    are upper bounds: a small corpus yields a smaller vocabulary.
    """

    shared: bool = False  # one joint vocabulary for source and target
    size: int = 8000
    src_size: int = 0  # 0 = size
    tgt_size: int = 0  # 0 = size
    model_type: str = "unigram"  # unigram | bpe
    max_sentences: int = 300_000  # sentences sentencepiece trains on (per vocabulary)

    def __post_init__(self) -> None:
        if self.model_type not in VOCAB_MODEL_TYPES:
            raise ValueError(
                f"unknown vocab model type {self.model_type!r}; "
                f"valid: {', '.join(VOCAB_MODEL_TYPES)}"
            )
        if self.size < 8 or any(0 < s < 8 for s in (self.src_size, self.tgt_size)):
            raise ValueError(
                f"vocabulary sizes must be >= 8, got {self.size}, {self.src_size}, {self.tgt_size}"
            )
        _positive("max_sentences", self.max_sentences)

    @property
    def source_size(self) -> int:
        return self.src_size or self.size

    @property
    def target_size(self) -> int:
        return self.tgt_size or self.size


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, loss terms and the learning-rate schedule."""

    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    clip_norm: float = 1.0  # 0 = no gradient clipping
    label_smoothing: float = 0.1
    teacher_forcing: float = 1.0  # probability of feeding the reference token
    attention_regularizer: float = 1.0  # captioning: doubly stochastic penalty weight
    schedule: str = "constant"
    warmup_steps: int = 0
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}"
            )
        if self.schedule not in SCHEDULE_SHAPES:
            raise ValueError(
                f"unknown lr schedule {self.schedule!r}; valid: {', '.join(SCHEDULE_SHAPES)}"
            )
        _positive("lr", self.lr)
        for name in ("weight_decay", "clip_norm", "attention_regularizer", "min_lr"):
            _positive(name, getattr(self, name), allow_zero=True)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {self.teacher_forcing}")

    def schedule_config(self, total_steps: int) -> ScheduleConfig:
        return ScheduleConfig(
            name=self.schedule,
            warmup_steps=self.warmup_steps,
            total_steps=total_steps,
            factor=self.plateau_factor,
            patience=self.plateau_patience,
            min_lr=self.min_lr,
        )


@dataclass(frozen=True)
class RunConfig:
    """Length of the run, checkpoints, resuming, logging and hardware."""

    out_dir: str = "runs/attnscope"
    epochs: int = 10
    max_steps: int = 0  # stop after this many optimizer steps in total (0 = no limit)
    early_stopping: int = 0  # stop after this many epochs without improvement (0 = off)
    best_metric: str = "auto"  # auto: BLEU (translation) / CIDEr-D (captioning), else loss
    seed: int = 1234
    device: str = "auto"
    resume: bool = False
    save_every_minutes: float = 10.0  # mid-epoch resumable state (0 = epoch ends only)
    # epoch-NNN.safetensors kept: -1 every epoch within epoch_budget_mb, thinned evenly past
    # it (to compare epochs); N > 0 the last N (averaging); 0 none. See epoch_files.py
    keep_epochs: int = -1
    epoch_budget_mb: float = 1024.0  # disk budget of the epoch checkpoints (keep_epochs -1)
    log_every: int = 50  # optimizer steps between metrics-log records
    progress_seconds: float = 10.0  # seconds between progress lines on stderr
    val_decode: bool = True  # greedy-decode the validation set for BLEU / CIDEr-D
    choose_decoding: bool = True  # at the end, the decoding grid on validation (val_decode)
    fine_tune_after: int = -1  # captioning: unfreeze the CNN trunk from this epoch (-1 = never)
    trunk_lr_scale: float = 0.1  # learning-rate factor of the unfrozen trunk
    trunk_weights: str | None = None  # local ImageNet weights file for the trunk
    cache_features: bool = True  # captioning: trunk features computed once while frozen
    update_trunk_statistics: bool = False  # captioning: a trainable trunk's BatchNorm learns
    storage_dtype: str = "float32"  # checkpoint weights: float32 | float16 | bfloat16
    num_threads: int = 0  # torch CPU threads (0 = torch's default)

    def __post_init__(self) -> None:
        _positive("epochs", self.epochs)
        if self.best_metric not in BEST_METRICS:
            raise ValueError(
                f"unknown best metric {self.best_metric!r}; valid: {', '.join(BEST_METRICS)}"
            )
        for name in (
            "max_steps",
            "early_stopping",
            "save_every_minutes",
            "num_threads",
        ):
            _positive(name, getattr(self, name), allow_zero=True)
        if self.keep_epochs < -1:
            raise ValueError(
                f"keep_epochs must be -1 (within epoch_budget_mb), 0 (none) or the number "
                f"of last epochs to keep, got {self.keep_epochs}"
            )
        _positive("epoch_budget_mb", self.epoch_budget_mb)
        _positive("log_every", self.log_every)
        _positive("trunk_lr_scale", self.trunk_lr_scale)
        if self.storage_dtype not in STORAGE_DTYPE_NAMES:
            raise ValueError(
                f"unknown storage dtype {self.storage_dtype!r}; "
                f"valid: {', '.join(STORAGE_DTYPE_NAMES)}"
            )


_SECTIONS = {"data": DataConfig, "vocab": VocabConfig, "optim": OptimConfig, "run": RunConfig}


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run. ``model`` holds overrides of the task's default ModelConfig."""

    data: DataConfig
    vocab: VocabConfig = field(default_factory=VocabConfig)
    model: dict[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        self.model_config(src_vocab=8, tgt_vocab=8)  # validates the overrides early

    @property
    def task(self) -> str:
        return self.data.task

    def model_config(self, *, src_vocab: int, tgt_vocab: int) -> ModelConfig:
        """The ModelConfig for vocabularies of these sizes (defaults + overrides)."""
        merged = _deep_merge(TASK_MODEL_DEFAULTS[self.task], self.model)
        if merged.get("task", self.task) != self.task:
            raise ValueError(f"[model] task {merged['task']!r} contradicts data task {self.task!r}")
        merged.update(
            task=self.task,
            src_vocab=src_vocab if self.task == "translation" else 0,
            tgt_vocab=tgt_vocab,
        )
        nested = {k: v for k, v in merged.items() if isinstance(v, dict)}
        flat = {k: v for k, v in merged.items() if not isinstance(v, dict)}
        try:
            base = ModelConfig.from_dict(flat)
            return replace_nested(base, **{k: _tuples(v) for k, v in nested.items()})
        except TypeError as exc:
            raise ValueError(f"bad [model] settings: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready dict (the inverse of ``from_dict``)."""
        out = {name: asdict(getattr(self, name)) for name in _SECTIONS}
        out["model"] = copy.deepcopy(self.model)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from nested sections; unknown sections or keys raise ValueError."""
        unknown = sorted(set(data) - set(_SECTIONS) - {"model"})
        if unknown:
            raise ValueError(
                f"unknown config sections: {', '.join(unknown)}; valid: data, vocab, model, optim, run"
            )
        sections = {
            name: _section(kind, data.get(name, {}), name) for name, kind in _SECTIONS.items()
        }
        model = data.get("model", {})
        if not isinstance(model, dict):
            raise ValueError(f"[model] must be a table, got {type(model).__name__}")
        return cls(model=copy.deepcopy(model), **sections)


def _section(kind: type, values: dict[str, Any], name: str):
    if not isinstance(values, dict):
        raise ValueError(f"[{name}] must be a table, got {type(values).__name__}")
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown [{name}] keys: {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_settings(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Nested-dict merge: ``override``'s leaves win (TOML file < command-line flags)."""
    return _deep_merge(base, override)


def load_toml(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML file, as nested dicts (validated by ``TrainConfig.from_dict``)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from exc
