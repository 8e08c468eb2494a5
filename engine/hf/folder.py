"""What a Hugging Face ``save_pretrained`` folder holds, checked before anything is built.

``read_hf_folder(path)`` reads ``config.json`` (bounded, plain JSON) and lists the
weight and tokenizer files, without importing ``transformers``. It refuses, each with
one ``HfFolderError`` line:

- a path that does not exist (a hub id such as ``Helsinki-NLP/opus-mt-de-en`` gets told
  that nothing is downloaded), or that is not a folder;
- a missing or malformed ``config.json`` (not UTF-8, nested deeper than 64 levels,
  NaN or Infinity); a tokenizer file that is not a regular file (a FIFO would block,
  /dev/zero never ends) or is larger than MAX_TOKENIZER_FILE_BYTES; a side file
  transformers reads (``SIDE_FILES``: generation_config.json, special_tokens_map.json,
  ...) that is not a regular file or not bounded plain JSON; any other entry that is a
  FIFO, a device, a socket or a symbolic link loop (transformers reads files not listed
  here, such as tokenizer.model);
- a model or tokenizer that needs remote code (``auto_map`` in config.json or
  tokenizer_config.json): never trusted;
- a model that is not an encoder–decoder (BERT, GPT-2, ``…ForCausalLM``);
- an architecture AttnScope does not step yet (``SUPPORTED_ARCHITECTURES``);
- sizes beyond SIZE_BOUNDS (engine/hf/folder_budget.py; an untrusted config must not
  make us build 10,000 layers);
- weights other than safetensors: a folder with only ``pytorch_model.bin`` is refused,
  because reading it means unpickling (see docs/huggingface.md for converting it);
- a shard index (``model.safetensors.index.json``) larger than MAX_INDEX_BYTES, or
  whose ``weight_map`` names a shard outside the folder (``../x.safetensors``, an
  absolute path, a sub-folder), a missing shard or one that is not a regular file.

A symbolic link to a regular file is followed (a hub cache snapshot links every file
to ``../../blobs/``); one to a device, a FIFO, a loop or nothing is refused.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attnscope.engine.bounded_json import loads_bounded
from attnscope.engine.errors import CheckpointError
from attnscope.engine.hf.folder_budget import SIZE_BOUNDS, parameter_lower_bound, size_problem
from attnscope.engine.input_files import display_path, special_file_kind

MAX_CONFIG_BYTES = 1024 * 1024  # a real config.json is 1-5 kB
# One tokenizer file: NLLB's tokenizer.json is 17 MB, Marian's vocab.json 1-2 MB.
MAX_TOKENIZER_FILE_BYTES = 256 * 1024 * 1024
# JSON objects in one tokenizer JSON file: each added token is one, the rest a few dozen
# (NLLB adds about 200 language codes). A tokenizer.json of a million added tokens
# (134 MB, within the byte bound) took over 60 s and 3.3 GB to load.
MAX_TOKENIZER_OBJECTS = 20_000
# A shard index names each tensor's shard: NLLB-3.3B's (about 1,500 tensors) is ~100 kB.
MAX_INDEX_BYTES = 16 * 1024 * 1024
# A save_pretrained folder holds 5-20 files; a hub snapshot about as many.
MAX_FOLDER_ENTRIES = 10_000
# Small JSON files beside the config that transformers reads when present; each must be
# a regular file (a FIFO would block the loader) and bounded plain JSON.
SIDE_FILES = (
    "generation_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "processor_config.json",
)

# The Hugging Face classes AttnScope steps, and the family each belongs to.
SUPPORTED_ARCHITECTURES = {
    "MarianMTModel": "marian",
    "BartForConditionalGeneration": "bart",
    "T5ForConditionalGeneration": "t5",
    # multilingual: the target language is a token (engine/hf/multilingual.py)
    "MBartForConditionalGeneration": "mbart",
    "M2M100ForConditionalGeneration": "m2m100",  # M2M100 and NLLB folders
    "VisionEncoderDecoderModel": "vision-encoder-decoder",
    "BlipForConditionalGeneration": "blip",
}
# Captioners: an image encoder and a text decoder in one config, nested (engine/hf/
# vision_folder.py checks the halves); BLIP's config does not say is_encoder_decoder.
CAPTIONING_ARCHITECTURES = ("VisionEncoderDecoderModel", "BlipForConditionalGeneration")

# Names of heads that are never an encoder–decoder, whatever the config says.
_ONE_SIDED = re.compile(
    r"(ForCausalLM|ForMaskedLM|LMHeadModel|ForSequenceClassification|ForTokenClassification"
    r"|ForQuestionAnswering|ForMultipleChoice|ForPreTraining)$"
)
# "owner/name" or "name": what a hub id looks like (a path that does not exist).
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHT_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "source.spm",
    "target.spm",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "merges.txt",
    "vocab.txt",  # BERT's WordPiece (BLIP, BERT decoders)
)


class HfFolderError(CheckpointError):
    """A Hugging Face model folder that AttnScope cannot open (one line saying why)."""


@dataclass(frozen=True)
class HfFolder:
    """A checked model folder.

    architecture:    the config's ``architectures[0]``, one of SUPPORTED_ARCHITECTURES
    family:          its family ("marian")
    config:          config.json as plain JSON
    weights:         the safetensors file (or shard index) the weights come from
    tokenizer_files: the tokenizer files present, by name
    """

    path: Path
    architecture: str
    family: str
    config: dict[str, Any]
    weights: Path
    tokenizer_files: tuple[str, ...]

    @property
    def task(self) -> str:
        """ "captioning" for an image encoder with a text decoder, else "translation"."""
        return "captioning" if self.architecture in CAPTIONING_ARCHITECTURES else "translation"

    def describe(self) -> dict[str, Any]:
        """Plain JSON facts for ``attnscope info`` and the GUI's model summary."""
        sizes = {key: self.config[key] for key in SIZE_BOUNDS if key in self.config}
        if self.task == "captioning":  # the sizes are the encoder's and decoder's
            from attnscope.engine.hf.vision_folder import nested_sizes

            sizes = nested_sizes(self.config, self.architecture)
        return {
            "format": "huggingface",
            "path": str(self.path),
            "architecture": self.architecture,
            "family": self.family,
            "task": self.task,
            "model_type": self.config.get("model_type"),
            "sizes": sizes,
            "weights": self.weights.name,
            "weights_bytes": self.weights_bytes(),
            "tokenizer_files": list(self.tokenizer_files),
        }

    def weights_bytes(self) -> int:
        """Bytes of the weights: the safetensors file, or every shard beside its index."""
        if self.weights.name.endswith(".index.json"):
            shards = _shards(self.weights, display_path(self.path))
            return sum((self.path / shard).stat().st_size for shard in shards)
        return self.weights.stat().st_size


def read_hf_folder(path: str | os.PathLike) -> HfFolder:
    """Check the folder ``path`` and return what it holds; HfFolderError says what is wrong."""
    folder = Path(path)
    name = display_path(folder)
    if not folder.exists():
        if not os.path.isabs(str(path)) and _HUB_ID.match(str(path)):
            raise HfFolderError(
                f"{name} is not a local folder; AttnScope never downloads models: "
                "download it first (e.g. `hf download ID --local-dir DIR`) "
                "and open DIR"
            )
        raise HfFolderError(f"model folder {name} does not exist")
    if not folder.is_dir():
        raise HfFolderError(f"{name} is not a folder (a Hugging Face model is a folder)")
    if special_file_kind(folder / "config.json") == "missing":
        raise HfFolderError(f"{name} has no config.json: not a save_pretrained model folder")
    config = _read_json(folder / "config.json", name)
    architecture = _check_architecture(config, name)
    if problem := size_problem(config):
        raise HfFolderError(f"{name}/config.json: {problem}")
    if architecture in CAPTIONING_ARCHITECTURES:
        from attnscope.engine.hf.vision_folder import check_captioner

        check_captioner(folder, architecture, config, name)
    weights = _weights_file(folder, name)
    if weights.name.endswith(".index.json"):
        _shards(weights, name)
    for file in SIDE_FILES:
        if special_file_kind(folder / file) != "missing":
            _read_json(folder / file, name)
    _check_no_blocking_files(folder, name)
    checked = HfFolder(
        path=folder,
        architecture=architecture,
        family=SUPPORTED_ARCHITECTURES[architecture],
        config=config,
        weights=weights,
        tokenizer_files=_tokenizer_files(folder, name),
    )
    needed, held = parameter_lower_bound(config), checked.weights_bytes()
    if needed > held:  # transformers would allocate them all before reading a byte
        raise HfFolderError(
            f"{name}/config.json asks for at least {needed:,} parameters but the weights "
            f"hold {held:,} bytes: they cannot be this model's"
        )
    return checked


def _check_no_blocking_files(folder: Path, name: str) -> None:
    """No entry of the folder is a FIFO, a device or a socket (a symbolic link followed):
    transformers reads files this module does not list (tokenizer.model, chat templates,
    ...), and reading a FIFO blocks forever, /dev/zero never ends."""
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries):
            if count >= MAX_FOLDER_ENTRIES:
                raise HfFolderError(
                    f"{name} holds more than {MAX_FOLDER_ENTRIES:,} entries: not a model folder"
                )
            kind = special_file_kind(entry.path)
            if (
                kind is not None
                and kind not in ("a directory", "missing")
                and not (kind.startswith(("a broken symbolic link", "unreadable")))
            ):
                raise HfFolderError(
                    f"{name}/{display_path(entry.name)} is {kind}, not a regular file"
                )


def _read_json(path: Path, name: str, *, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """A bounded JSON object (at most ``limit`` bytes, finite numbers) from the regular
    file ``path`` (``name``: the folder shown)."""
    shown = f"{name}/{path.name}"
    kind = special_file_kind(path)
    if kind is not None:
        raise HfFolderError(f"{shown} is {kind}, not a regular file")
    if path.stat().st_size > limit:
        raise HfFolderError(f"{shown} is larger than {limit:,} bytes")
    try:
        value = loads_bounded(path.read_bytes())
    except (ValueError, OSError) as exc:  # bad JSON, limits, not UTF-8, unreadable
        raise HfFolderError(f"{shown} cannot be read: {exc}") from exc
    if _has_non_finite(value):  # a NaN layer_norm_eps would make every output NaN
        raise HfFolderError(f"{shown} holds NaN or Infinity, which are not JSON numbers")
    if not isinstance(value, dict):
        raise HfFolderError(f"{shown} is not a JSON object")
    return value


def _has_non_finite(value: Any) -> bool:
    """Whether a float anywhere in ``value`` (depth already bounded) is NaN or infinite."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, dict | list):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return False


def _tokenizer_files(folder: Path, name: str) -> tuple[str, ...]:
    """The tokenizer files present: regular, bounded in size, and no tokenizer that needs
    code from the folder (``auto_map`` in tokenizer_config.json)."""
    present = tuple(f for f in TOKENIZER_FILES if (folder / f).exists())
    for file in present:
        kind = special_file_kind(folder / file)
        if kind is not None:  # a FIFO would block the tokenizer's reader forever
            raise HfFolderError(f"{name}/{file} is {kind}, not a regular file")
        if (folder / file).stat().st_size > MAX_TOKENIZER_FILE_BYTES:
            raise HfFolderError(
                f"{name}/{file} is larger than the {MAX_TOKENIZER_FILE_BYTES:,}-byte limit"
            )
        if file.endswith(".json") and _count_braces(folder / file) > MAX_TOKENIZER_OBJECTS:
            raise HfFolderError(
                f"{name}/{file} holds more than {MAX_TOKENIZER_OBJECTS:,} JSON objects "
                "(added tokens?): too many to load"
            )
    settings = folder / "tokenizer_config.json"
    if "tokenizer_config.json" in present and "auto_map" in _read_json(settings, name):
        raise HfFolderError(
            f"{name}'s tokenizer needs its own Python code (auto_map in "
            "tokenizer_config.json); AttnScope never runs code from a model folder"
        )
    return present


def _count_braces(path: Path) -> int:
    """How many ``{`` bytes ``path`` holds: at least its number of JSON objects (an
    escape cannot spell a brace), counted in 1 MiB chunks without parsing."""
    count = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            count += chunk.count(b"{")
    return count


def _check_architecture(config: dict[str, Any], name: str) -> str:
    if "auto_map" in config:
        raise HfFolderError(
            f"{name} needs its own Python code (auto_map in config.json); "
            "AttnScope never runs code from a model folder"
        )
    architectures = config.get("architectures")
    if not (
        isinstance(architectures, list) and architectures and isinstance(architectures[0], str)
    ):
        raise HfFolderError(f"{name}/config.json names no architecture (architectures)")
    architecture = architectures[0]
    # a captioner is an encoder–decoder by construction (BLIP's config does not say so)
    encoder_decoder = config.get("is_encoder_decoder") is True
    if not (encoder_decoder or architecture in CAPTIONING_ARCHITECTURES) or _ONE_SIDED.search(
        architecture
    ):
        raise HfFolderError(
            f"{name} holds {architecture:.60}: AttnScope needs an encoder–decoder "
            "(a model with an encoder and a decoder attending to it)"
        )
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise HfFolderError(
            f"{name}: unknown architecture {architecture!r:.60}; "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    return architecture


def _weights_file(folder: Path, name: str) -> Path:
    for file in WEIGHT_FILES:
        kind = special_file_kind(folder / file)
        if kind is None:
            return folder / file
        if kind != "missing":  # /dev/zero, a FIFO, a loop: say so, not "no weights"
            raise HfFolderError(f"{name}/{file} is {kind}, not a regular file")
    if any((folder / file).exists() for file in PICKLED_WEIGHT_FILES):
        raise HfFolderError(
            f"{name} holds its weights only as pytorch_model.bin (a pickle, which AttnScope "
            "never reads); convert it to model.safetensors first (see docs/huggingface.md)"
        )
    raise HfFolderError(f"{name} has no weights (model.safetensors)")


def _shards(index: Path, name: str) -> list[str]:
    """The shard files ``index`` names: plain file names beside it, each a regular file
    (transformers would follow ``../outside.safetensors`` or an absolute path)."""
    weight_map = _read_json(index, name, limit=MAX_INDEX_BYTES).get("weight_map")
    if not (isinstance(weight_map, dict) and weight_map):
        raise HfFolderError(f"{name}/{index.name} has no weight_map (tensor -> shard file)")
    shards = sorted(set(weight_map.values()), key=str)
    for shard in shards:
        if not (
            isinstance(shard, str)
            and shard.endswith(".safetensors")
            and Path(shard).name == shard
            and shard not in (".", "..")
            and "\\" not in shard
        ):
            raise HfFolderError(
                f"{name}/{index.name} names shard {shard!r:.60}: a shard must be a "
                ".safetensors file in the folder itself"
            )
        kind = special_file_kind(index.parent / shard)
        if kind == "missing":
            raise HfFolderError(f"{name}/{index.name} names shard {shard:.60}, which is missing")
        if kind is not None:
            raise HfFolderError(f"{name}/{shard:.60} is {kind}, not a regular file")
    return shards
