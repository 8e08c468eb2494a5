"""`attnscope train`: flags and/or a TOML file -> TrainConfig -> ``training.run.train``.

Every flag maps to one key of a TrainConfig section (``FLAGS``); a few
model flags set several keys at once (``--hidden`` sets the encoder's and
the decoder's). Flags override the ``--config`` TOML file, which overrides
the defaults. Under ``torchrun`` the same command trains on every process.

Exit status: 0 when the run finished (all epochs, early stopping or
--max-steps), 3 when it was stopped by a signal (resume with --resume),
2 for bad settings or data, 1 for other failures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 3
EXIT_BAD_SETTINGS = 2
BOOL = argparse.BooleanOptionalAction
METAVARS = {int: "N", float: "X"}

# flag -> (config paths it sets, argparse options)
FLAGS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    # data
    "--task": (("data.task",), {"choices": ("translation", "captioning")}),
    "--src-train": (("data.src_train",), {"metavar": "FILE", "help": "source sentences (.gz ok)"}),
    "--tgt-train": (("data.tgt_train",), {"metavar": "FILE", "help": "target sentences"}),
    "--src-val": (("data.src_val",), {"metavar": "FILE"}),
    "--tgt-val": (("data.tgt_val",), {"metavar": "FILE"}),
    "--pairs-train": (("data.pairs_train",), {"metavar": "TSV", "help": "TSV of pairs"}),
    "--pairs-val": (("data.pairs_val",), {"metavar": "TSV"}),
    "--source-column": (("data.source_column",), {"type": int, "help": "0-based TSV column"}),
    "--target-column": (("data.target_column",), {"type": int}),
    "--val-size": (("data.val_size",), {"type": int, "help": "hold out N when no val data"}),
    "--images": (("data.images",), {"metavar": "DIR"}),
    "--captions": (("data.captions",), {"metavar": "CSV", "help": "image,caption CSV"}),
    "--split-file": (("data.split_file",), {"metavar": "TSV", "help": "image<TAB>split"}),
    "--train-split": (("data.train_splits",), {"nargs": "+", "metavar": "NAME"}),
    "--val-split": (("data.val_splits",), {"nargs": "+", "metavar": "NAME"}),
    "--max-src-tokens": (("data.max_src_tokens",), {"type": int}),
    "--max-tgt-tokens": (("data.max_tgt_tokens",), {"type": int}),
    "--batch-size": (("data.batch_size",), {"type": int, "help": "sentences per batch"}),
    "--batch-tokens": (("data.batch_tokens",), {"type": int, "help": "token budget per batch"}),
    "--max-val-examples": (("data.max_val_examples",), {"type": int}),
    "--src-lang": (("data.src_lang",), {"metavar": "CODE", "help": "source language, ISO 639"}),
    "--tgt-lang": (("data.tgt_lang",), {"metavar": "CODE", "help": "target language, ISO 639"}),
    # vocabulary
    "--shared-vocab": (("vocab.shared",), {"action": BOOL}),
    "--vocab-size": (("vocab.size",), {"type": int}),
    "--src-vocab-size": (("vocab.src_size",), {"type": int}),
    "--tgt-vocab-size": (("vocab.tgt_size",), {"type": int}),
    "--vocab-type": (("vocab.model_type",), {"choices": ("unigram", "bpe")}),
    # model
    "--encoder": (("model.text_encoder.kind",), {"choices": ("rnn", "cnn", "conv_rnn")}),
    "--cell": (("model.text_encoder.cell", "model.decoder.cell"), {"choices": ("gru", "lstm")}),
    "--layers": (("model.text_encoder.layers", "model.decoder.layers"), {"type": int}),
    "--encoder-layers": (("model.text_encoder.layers",), {"type": int}),
    "--decoder-layers": (("model.decoder.layers",), {"type": int}),
    "--hidden": (("model.text_encoder.hidden", "model.decoder.hidden"), {"type": int}),
    "--encoder-hidden": (("model.text_encoder.hidden",), {"type": int}),
    "--decoder-hidden": (("model.decoder.hidden",), {"type": int}),
    "--bidirectional": (("model.text_encoder.bidirectional",), {"action": BOOL}),
    "--embed-dim": (("model.embed_dim",), {"type": int}),
    "--attention": (
        ("model.attention.kind",),
        {"help": "additive | dot | general | location | location_sensitive | multihead | none"},
    ),
    "--heads": (("model.attention.heads",), {"type": int}),
    "--attention-hidden": (("model.attention.hidden",), {"type": int}),
    "--placement": (("model.decoder.placement",), {"choices": ("bahdanau", "luong")}),
    "--input-feed": (("model.decoder.input_feed",), {"action": BOOL}),
    "--dropout": (
        ("model.text_encoder.dropout", "model.decoder.dropout", "model.image_encoder.dropout"),
        {"type": float},
    ),
    "--share-embeddings": (("model.share_embeddings",), {"action": BOOL}),
    "--tie-output": (("model.tie_output",), {"action": BOOL}),
    "--init": (("model.init",), {"choices": ("default", "normal", "uniform", "xavier")}),
    "--backbone": (("model.image_encoder.backbone",), {}),
    "--image-size": (("model.image_encoder.image_size",), {"type": int, "nargs": 2}),
    "--grid": (("model.image_encoder.grid",), {"type": int, "nargs": 2}),
    "--projection": (("model.image_encoder.projection",), {"type": int}),
    # optimisation
    "--optimizer": (("optim.optimizer",), {"choices": ("adam", "adamw")}),
    "--lr": (("optim.lr",), {"type": float}),
    "--weight-decay": (("optim.weight_decay",), {"type": float}),
    "--clip-norm": (("optim.clip_norm",), {"type": float, "help": "0 = no clipping"}),
    "--label-smoothing": (("optim.label_smoothing",), {"type": float}),
    "--teacher-forcing": (("optim.teacher_forcing",), {"type": float}),
    "--attention-regularizer": (("optim.attention_regularizer",), {"type": float}),
    "--schedule": (
        ("optim.schedule",),
        {"choices": ("constant", "inverse_sqrt", "linear", "plateau")},
    ),
    "--warmup-steps": (("optim.warmup_steps",), {"type": int}),
    "--plateau-factor": (("optim.plateau_factor",), {"type": float}),
    "--plateau-patience": (("optim.plateau_patience",), {"type": int}),
    "--min-lr": (("optim.min_lr",), {"type": float}),
    # run
    "--out": (("run.out_dir",), {"metavar": "DIR", "help": "checkpoints, state and logs"}),
    "--epochs": (("run.epochs",), {"type": int}),
    "--max-steps": (("run.max_steps",), {"type": int}),
    "--early-stopping": (("run.early_stopping",), {"type": int, "metavar": "EPOCHS"}),
    "--best-metric": (("run.best_metric",), {"choices": ("auto", "loss", "bleu", "cider")}),
    "--seed": (("run.seed",), {"type": int}),
    "--device": (("run.device",), {"help": "auto | cpu | cuda | cuda:N | mps"}),
    "--resume": (("run.resume",), {"action": BOOL, "help": "continue the run in --out"}),
    "--save-every-minutes": (("run.save_every_minutes",), {"type": float}),
    "--keep-epochs": (
        ("run.keep_epochs",),
        {"type": int, "help": "-1: every epoch within --epoch-budget-mb; N: the last N; 0: none"},
    ),
    "--epoch-budget-mb": (("run.epoch_budget_mb",), {"type": float, "metavar": "MIB"}),
    "--log-every": (("run.log_every",), {"type": int, "metavar": "STEPS"}),
    "--progress-seconds": (("run.progress_seconds",), {"type": float}),
    "--val-decode": (("run.val_decode",), {"action": BOOL, "help": "BLEU / CIDEr-D each epoch"}),
    "--choose-decoding": (
        ("run.choose_decoding",),
        {"action": BOOL, "help": "at the end, pick the recommended decoding on validation"},
    ),
    "--fine-tune-after": (("run.fine_tune_after",), {"type": int, "metavar": "EPOCHS"}),
    "--trunk-lr-scale": (("run.trunk_lr_scale",), {"type": float}),
    "--trunk-weights": (("run.trunk_weights",), {"metavar": "FILE"}),
    "--cache-features": (("run.cache_features",), {"action": BOOL}),
    "--storage-dtype": (("run.storage_dtype",), {"choices": ("float32", "float16", "bfloat16")}),
    "--threads": (("run.num_threads",), {"type": int}),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="TOML", help="settings file (flags override it)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved settings and exit"
    )
    groups = {
        name: parser.add_argument_group(f"[{name}] settings")
        for name in ("data", "vocab", "model", "optim", "run")
    }
    for flag, (paths, options) in FLAGS.items():
        options = dict(options)
        help_text = options.pop("help", "")
        options["help"] = f"{help_text} [{', '.join(paths)}]".strip()
        if "choices" not in options and options.get("action") is not BOOL:
            options.setdefault("metavar", METAVARS.get(options.get("type"), "VALUE"))
        group = groups[paths[0].split(".")[0]]
        group.add_argument(flag, dest=flag, default=argparse.SUPPRESS, **options)


def settings_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Nested settings dict from the flags that were given (absent flags: nothing)."""
    settings: dict[str, Any] = {}
    given = vars(args)
    for flag, (paths, _) in FLAGS.items():
        if flag not in given:
            continue
        value = given[flag]
        for path in paths:
            node = settings
            *parents, leaf = path.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = list(value) if isinstance(value, list | tuple) else value
    return settings


def build_config(args: argparse.Namespace):
    """TrainConfig from --config and the flags (ValueError when something is wrong)."""
    from attnscope.engine.training.config import TrainConfig, load_toml, merge_settings

    settings = load_toml(args.config) if getattr(args, "config", None) else {}
    return TrainConfig.from_dict(merge_settings(settings, settings_from_args(args)))


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.errors import AttnScopeError
    from attnscope.engine.training.run import train

    try:
        config = build_config(args)
    except ValueError as exc:
        print(f"attnscope train: error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    if args.print_config:
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    try:
        settings_dir = Path(args.config).parent if getattr(args, "config", None) else None
        result = train(config, handle_signals=True, settings_dir=settings_dir)
    except (AttnScopeError, ValueError) as exc:
        print(f"attnscope train: error: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    summary = {
        "status": result.status,
        "epochs": result.epochs_done,
        "steps": result.step,
        "metric": result.metric,
        "best": result.best,
        "best_checkpoint": str(result.best_checkpoint),
        "last_checkpoint": str(result.last_checkpoint),
    }
    if os.environ.get("RANK", "0") == "0":  # one summary under torchrun
        print(json.dumps(summary))
    return EXIT_INTERRUPTED if result.status == "interrupted" else 0
