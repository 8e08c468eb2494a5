"""Stored tensors against the model their config builds: names, shapes, dtypes, sizes, values.

Everything here runs before (or while) a checkpoint's weights reach its model:
the parameter count the config implies against what the file holds, every
stored name, shape and dtype against a meta-device skeleton, and every loaded
value finite. Problems raise ``CheckpointError`` naming the file and tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnscope.engine.checkpoint_format import TensorEntry, checkpoint_error, listed, numel
from attnscope.models.config import ModelConfig, minimum_parameters

_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def tensor_aliases(model: nn.Module) -> dict[str, str]:
    """Second and later names of tensors registered more than once -> their first name."""
    first: dict[int, str] = {}
    found = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        found.update({name: first[id(tensor)]} if id(tensor) in first else {})
        first.setdefault(id(tensor), name)
    return found


def check_tensors(path: Path, stored: Mapping[str, TensorEntry], expected: Mapping[str, Tensor]):
    """Names, shapes and dtypes of the stored tensors must fit the freshly built model."""
    problems = []
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing:
        problems.append(f"missing tensors: {listed(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors: {listed(unexpected)}")
    for name in sorted(set(stored) & set(expected)):
        entry, want = stored[name], expected[name]
        if entry.shape != tuple(want.shape):
            problems.append(
                f"tensor {name} has shape {list(entry.shape)}, needs {list(want.shape)}"
            )
        elif want.is_floating_point() != entry.dtype.is_floating_point or (
            not want.is_floating_point() and entry.dtype != want.dtype
        ):
            problems.append(f"tensor {name} has dtype {entry.dtype}, needs {want.dtype}")
    if problems:
        raise checkpoint_error(path, "does not fit its model config: " + "; ".join(problems[:8]))


def expected_tensors(model: nn.Module) -> dict[str, Tensor]:
    seconds = tensor_aliases(model)
    return {k: v for k, v in model.state_dict().items() if k not in seconds}


def fill_model(path: Path, model: nn.Module, tensors: dict[str, Tensor]) -> None:
    """Load ``tensors`` (canonical names) into ``model`` strictly, in the model's dtypes."""
    state = model.state_dict()
    full = {name: tensors[name].to(state[name].dtype) for name in tensors}
    check_finite(path, full)
    for alias, name in tensor_aliases(model).items():
        full[alias] = full[name]
    try:
        model.load_state_dict(full, strict=True)
    except RuntimeError as exc:
        raise checkpoint_error(path, f"weights do not load into the model: {exc}") from exc


def check_finite(path: Path, tensors: Mapping[str, Tensor]) -> None:
    """Every float tensor (as the model will hold it) must be free of NaN and Inf.

    A NaN weight decodes garbage with no other sign, and a float64 value past
    float32's range becomes Inf on conversion; one pass per tensor is cheap.
    """
    for name, tensor in tensors.items():
        if not tensor.is_floating_point() or bool(torch.isfinite(tensor.sum())):
            continue  # a NaN or Inf anywhere makes the sum non-finite: one cheap pass
        bad = int((~torch.isfinite(tensor)).sum())  # or the sum overflowed: count exactly
        if bad:
            raise checkpoint_error(
                path,
                f"tensor {name} holds {bad:,} NaN or infinite values (of {tensor.numel():,}); "
                "the model would decode garbage",
            )


def check_parameter_count(path: Path, config: ModelConfig, stored: int) -> None:
    """The config's sizes must not imply more parameters than the file's tensors hold.

    Checked from the config's numbers alone, before even a meta-device skeleton is built.
    """
    implied = minimum_parameters(config)
    if implied > stored:
        raise checkpoint_error(
            path,
            f"does not fit its model config: the config implies at least {implied:,} "
            f"parameters, the file's tensors hold {stored:,}",
        )


def count_parameters(entries: Mapping[str, TensorEntry]) -> int:
    """Parameters from stored shapes alone (BatchNorm statistics are buffers, not counted)."""
    return sum(numel(e.shape) for n, e in entries.items() if not n.endswith(_BUFFER_SUFFIXES))


def canonical(items: dict[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Rename second names of shared tensors (as a plain state dict has them) to first names."""
    out = dict(items)
    for alias, name in aliases.items():
        if alias in out:
            out.setdefault(name, out.pop(alias))
    return out
