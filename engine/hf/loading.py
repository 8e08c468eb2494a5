"""Open a checked Hugging Face folder offline: its model, its tokenizer, its step model.

``load_hf_folder(path)`` checks the folder (``read_hf_folder``: no transformers needed
for that), then imports ``transformers`` and builds the model class the config names
(never an ``Auto…`` class that could follow an ``auto_map``) with

- ``local_files_only=True``: nothing is fetched;
- ``trust_remote_code=False``: no code from the folder runs;
- ``use_safetensors=True``: weights never come from a pickle;
- ``attn_implementation="eager"``: the attention weights are computed and returned;
- ``dtype=torch.float32``, whatever precision the weights were saved in;
- ``output_loading_info=True``: a parameter with no tensor in the weights is refused
  (transformers would leave it random with a warning).

Anything transformers or the tokenizer refuses becomes one ``HfFolderError`` line.
transformers' own progress bars ("Loading weights: 100%|...") and warnings stay off
stderr while a folder loads (``quiet_transformers``); the app logs one INFO line instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from attnscope.engine.hf.folder import HfFolder, HfFolderError, read_hf_folder
from attnscope.engine.hf.multilingual import FolderLanguages
from attnscope.engine.hf.step_model import HfStepModel
from attnscope.engine.hf.text import HfText
from attnscope.engine.hf.vocab_map import HfVocabMap
from attnscope.engine.input_files import display_path
from attnscope.engine.input_limits import MAX_SOURCE_TOKENS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedHfModel:
    """An opened folder: what it holds, the model (eval mode), its tokenizer, the step
    model the decode loop drives and the text side (``HfText``); ``languages`` is the
    language pair of a multilingual folder (mBART, M2M100, NLLB), else None."""

    folder: HfFolder
    model: Any
    tokenizer: Any
    step_model: HfStepModel
    text: HfText
    languages: FolderLanguages | None = None

    @property
    def vocab(self) -> HfVocabMap:
        return self.step_model.vocab


def load_hf_folder(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedHfModel:
    """Check and load the model folder ``path`` onto ``device``; HfFolderError if it cannot."""
    folder = read_hf_folder(path)
    import transformers  # only here: a second or more to import, and most sessions never do

    name = display_path(folder.path)
    if not transformers.__version__.startswith("5."):
        raise HfFolderError(
            f"transformers {transformers.__version__} is installed; opening {name} needs "
            "transformers 5 (pip install 'transformers>=5,<6')"
        )
    logger.info("loading %s (%.1f MB of weights)...", name, folder.weights_bytes() / 1e6)
    with quiet_transformers():
        tokenizer = _load_tokenizer(folder, name)  # first: cheaper, and fails earlier
        model, info = _load_model(transformers, folder, name)
    _check_loading_info(info, name)
    model = model.to(device).eval()
    if folder.task == "captioning":  # an image encoder and a text decoder
        from attnscope.engine.hf.vision import captioner_parts

        step_model, vocab = captioner_parts(model, tokenizer, name)
        logger.info("opened %s (%s) from %s", folder.architecture, folder.family, name)
        return LoadedHfModel(folder, model, tokenizer, step_model, HfText(tokenizer, vocab))
    eos, start = _eos_and_start(model.config, name)
    # Marian and T5 have no bos: the loop's bos then stands for their decoder start token
    bos = _token_id(getattr(model.config, "bos_token_id", None))
    vocab = HfVocabMap.build(
        model.get_output_embeddings().out_features,
        bos=start if bos is None else bos,
        eos=eos,
        unk=_token_id(getattr(tokenizer, "unk_token_id", None)),
        pad=_token_id(getattr(model.config, "pad_token_id", None)),
    )
    # learned or sinusoidal positions end at max_position_embeddings (T5 has none)
    positions = _token_id(getattr(model.config, "max_position_embeddings", None))
    limit = MAX_SOURCE_TOKENS if positions is None else min(MAX_SOURCE_TOKENS, positions)
    text = HfText(tokenizer, vocab, max_source_tokens=limit)
    step_model = HfStepModel(model, vocab)
    step_model.banned_tokens = _banned_tokens(model)
    step_model.forced_last_token = _forced_eos(model)
    languages = FolderLanguages.open(folder.family, model, tokenizer, step_model)
    if languages is not None:
        text.language_ids = frozenset(languages.codes.values())
    logger.info("opened %s (%s) from %s", folder.architecture, folder.family, name)
    return LoadedHfModel(folder, model, tokenizer, step_model, text, languages)


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' tqdm bars and its warnings off for the block, restored after: they
    went to stderr for every folder opened, also into logs and pipes, and say nothing a
    user acts on (a refused folder is one HfFolderError line). The settings are global
    to transformers, so loads should not overlap (the GUI's one worker runs one)."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _load_model(transformers: Any, folder: HfFolder, name: str) -> tuple[Any, dict[str, Any]]:
    """The folder's model class built from its weights, with transformers' loading info."""
    model_class = getattr(transformers, folder.architecture)
    try:
        return model_class.from_pretrained(
            folder.path,
            output_loading_info=True,  # missing tensors would be left random: refused
            ignore_mismatched_sizes=True,  # reported in the info, then refused by name
            local_files_only=True,
            trust_remote_code=False,
            use_safetensors=True,
            attn_implementation="eager",
            # a half-precision checkpoint would otherwise stay half: slow on a CPU and
            # less exact; the app's precision setting is a later, separate step
            dtype=torch.float32,
        )
    # transformers, huggingface_hub and safetensors raise many types for a bad folder
    # (SafetensorError, StrictDataclassFieldValidationError, OSError, ...): each is one line
    except Exception as exc:
        raise HfFolderError(f"{name}: the model cannot be loaded: {_one_line(exc)}") from exc


def load_hf_tokenizer(path: str | os.PathLike) -> tuple[HfFolder, Any]:
    """The checked folder and its tokenizer alone, no weights (``attnscope info DIR
    --languages`` lists a multilingual tokenizer's codes); HfFolderError if it cannot."""
    folder = read_hf_folder(path)
    with quiet_transformers():
        return folder, _load_tokenizer(folder, display_path(folder.path))


def _load_tokenizer(folder: HfFolder, name: str) -> Any:
    if not folder.tokenizer_files:
        raise HfFolderError(f"{name} has no tokenizer files (tokenizer.json, source.spm, ...)")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            folder.path, local_files_only=True, trust_remote_code=False
        )
    except Exception as exc:  # as for the model: any failure is one line
        raise HfFolderError(f"{name}: the tokenizer cannot be loaded: {_one_line(exc)}") from exc


def _check_loading_info(info: dict[str, Any], name: str) -> None:
    """Refuse weights that leave a parameter of the model untouched: transformers
    initialises a missing tensor (or, told to ignore it, one of another shape) at
    random and only warns, and a random layer would be shown as the model's attention.
    (Tied weights such as the output projection are not reported missing; an extra
    tensor that the model does not use is ignored.)"""
    missing = sorted(info.get("missing_keys") or ()) + sorted(
        str(key[0]) if isinstance(key, tuple) else str(key)
        for key in info.get("mismatched_keys") or ()
    )
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise HfFolderError(
            f"{name}: the model cannot be loaded: the weights do not fit the config: no "
            f"tensor (or one of another shape) for {', '.join(missing[:3])}{more}; refusing to run with random weights"
        )


def _banned_tokens(model: Any) -> torch.Tensor | None:
    """The model ids of generate()'s one-token ``bad_words_ids`` (generation_config.json,
    or config.json in older folders), None when there are none. Longer banned sequences
    are not applied (docs/huggingface.md)."""
    groups = getattr(model.generation_config, "bad_words_ids", None) or ()
    size = model.get_output_embeddings().out_features
    ids = {
        group[0]
        for group in groups
        if isinstance(group, list) and len(group) == 1 and _token_id(group[0]) is not None
    }
    ids = sorted(i for i in ids if 0 <= i < size)
    device = model.get_output_embeddings().weight.device
    return torch.tensor(ids, dtype=torch.long, device=device) if ids else None


def _forced_eos(model: Any) -> int | None:
    """generate()'s ``forced_eos_token_id`` (generation_config.json, or config.json in
    older folders) when it is a token of the model's vocabulary, else None."""
    token = _token_id(getattr(model.generation_config, "forced_eos_token_id", None))
    if token is None:
        token = _token_id(getattr(model.config, "forced_eos_token_id", None))
    size = model.get_output_embeddings().out_features
    return token if token is not None and 0 <= token < size else None


def _token_id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _eos_and_start(config: Any, name: str) -> tuple[int, int]:
    """The config's eos (the first, when it lists several) and decoder start token."""
    eos = config.eos_token_id
    eos = eos[0] if isinstance(eos, list) and eos else eos
    if _token_id(eos) is None:
        raise HfFolderError(f"{name}/config.json names no eos_token_id")
    start = _token_id(getattr(config, "decoder_start_token_id", None))
    if start is None:
        raise HfFolderError(f"{name}/config.json names no decoder_start_token_id")
    return eos, start


def _one_line(exc: BaseException) -> str:
    """The error's message on one line (some span several: "field 'x':\n  TypeError: ...")."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"
