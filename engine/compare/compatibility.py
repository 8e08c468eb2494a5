"""Can two models be compared on one input? ``compatible(a, b)`` says so, or says why not.

Two models compare when they do the same task (two translators, or two captioners),
read the same source language and write the same target language (when their
checkpoints record them, engine/languages.py, or a Hugging Face folder's tokenizer
names them, engine/hf/inference.py; an unrecorded language is not held against a
model), and sit on one device. A folder and a checkpoint, or two folders, compare
like two checkpoints. Different tokenizers are fine: outputs are
exchanged as text and attention is compared per word (engine/compare/attention.py).

Devices: nothing a comparison exchanges is a tensor (outputs cross as text, attention as
numpy arrays), but the app's worker and the command line run both models on the one
device they chose, so a pair on two devices is a mistake upstream. ``load_partner``
loads the second checkpoint onto the first model's device, which is how the app and
``attnscope compare`` open it; ``compatible`` refuses a pair on two devices, naming both.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from attnscope.engine.errors import AttnScopeError
from attnscope.engine.languages import SOURCE_KEY, TARGET_KEY, language_name

if TYPE_CHECKING:
    from attnscope.engine.inference import InferenceModel


class IncompatibleModelsError(AttnScopeError, ValueError):
    """Two models cannot be compared: another task, other languages, or two devices."""


def _name(model: InferenceModel) -> str:
    return model.source_path.name or str(model.source_path)


def compatible(a: InferenceModel, b: InferenceModel) -> None:
    """Return when ``a`` and ``b`` can decode the same input side by side; otherwise raise
    IncompatibleModelsError saying what differs, with both values."""
    if a.task != b.task:
        raise IncompatibleModelsError(
            f"{_name(b)} is a {b.task} model and {_name(a)} a {a.task} model; "
            f"compare {a.task} models with each other"
        )
    keys = (TARGET_KEY,) if a.task == "captioning" else (SOURCE_KEY, TARGET_KEY)
    for key in keys:
        first, second = a.info.get(key), b.info.get(key)
        if isinstance(first, str) and isinstance(second, str) and first != second:
            side = "source" if key == SOURCE_KEY else "target"
            raise IncompatibleModelsError(
                f"{_name(a)} has {language_name(first)} as its {side} language and "
                f"{_name(b)} {language_name(second)}; compare models of one language pair"
            )
    if a.device != b.device:
        raise IncompatibleModelsError(
            f"{_name(a)} runs on {a.device} and {_name(b)} on {b.device}; "
            f"load both on one device (the second checkpoint opens on {a.device} "
            "when it is opened for comparison)"
        )


def load_partner(path: str | os.PathLike, first: InferenceModel) -> InferenceModel:
    """Load checkpoint ``path`` on ``first``'s device and check the pair (CheckpointError
    for a bad file, IncompatibleModelsError for a model that does not compare)."""
    from attnscope.engine.inference import load_inference_model

    second = load_inference_model(path, device=str(first.device))
    compatible(first, second)
    return second
