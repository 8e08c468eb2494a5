"""The language pair of a multilingual folder: mBART (cc25 and -50), M2M100 and NLLB.

These models read both languages as tokens:

- the **source** language is a code the tokenizer puts around the input (its
  ``src_lang``): ``[code] X </s>`` for mBART-50, M2M100 and NLLB, ``X </s> [code]`` for
  mBART-cc25 (and NLLB's legacy mode);
- the **target** language is the first token the decoder produces. mBART-50, M2M100
  and NLLB start the decoder with their decoder start token (eos) and have generate()
  force the code as the first generated token (``forced_bos_token_id``); mBART-cc25
  (``MBartTokenizer``, e.g. mbart-large-en-ro) starts the decoder with the code itself
  (``decoder_start_token_id``).

``FolderLanguages`` does the same to an opened folder: it sets the tokenizer's
``src_lang`` and either ``HfStepModel.forced_first_token`` (at step 0 only the code is
possible, log-prob 0, as generate()'s ForcedBOSTokenLogitsProcessor leaves it) or
``HfStepModel.start_token``. So greedy and beam decodes equal
``generate(forced_bos_token_id=…)``, and the forced code is the first target token the
views show, with probability 1.

The codes come from the tokenizer: ``lang_code_to_id`` (mBART ``fr_XX``, M2M100 ``fr``)
or, for NLLB, its extra special tokens (``fra_Latn``). Which target a folder starts
with: its generation config's ``forced_bos_token_id`` (or, for mBART-cc25, a decoder
start token that is a code), else the tokenizer's ``tgt_lang``, else the first code.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from typing import Any

from attnscope.engine.errors import AttnScopeError

# the families whose folders may offer language codes (engine/hf/folder.py)
MULTILINGUAL_FAMILIES = ("mbart", "m2m100")
# how the target language reaches the decoder
FORCED_FIRST = "forced first token"
START_TOKEN = "decoder start token"
# codes named in a refusal (NLLB offers 202)
SHOWN_CODES = 8
# the form of a tokenizer's language code (mBART fr_XX, M2M100 fr, NLLB fra_Latn): what a
# saved session's pair is checked against before the model checks the code itself
LANGUAGE_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


class LanguageError(AttnScopeError, ValueError):
    """A language code the model does not offer, or a language asked of a model that
    offers no choice."""


@dataclass(frozen=True)
class LanguagePair:
    """What a multilingual model offers and the pair chosen (plain data for the GUI).

    codes:        every language code the tokenizer knows, in its order
    source:       the code the tokenizer marks the input with
    target:       the code the decoder starts from
    target_token: FORCED_FIRST or START_TOKEN (how the target reaches the decoder)
    """

    codes: tuple[str, ...]
    source: str
    target: str
    target_token: str

    def describe(self) -> dict[str, Any]:
        """Plain JSON for ``attnscope info`` and the CLI's records."""
        return {
            "source": self.source,
            "target": self.target,
            "target_token": self.target_token,
            "codes": list(self.codes),
        }


def chosen_pair(info: Any) -> tuple[str, str] | None:
    """(source, target) of the pair a model's ``info`` names (``language_pair``, as
    ``LanguagePair.describe`` gives it), None for a model that offers no choice: what a
    saved session or the autosave keeps to replay on the same pair."""
    pair = info.get("language_pair") if isinstance(info, dict) else None
    if not isinstance(pair, dict):
        return None
    source, target = pair.get("source"), pair.get("target")
    return (source, target) if isinstance(source, str) and isinstance(target, str) else None


def offered_codes(tokenizer: Any) -> dict[str, int]:
    """The tokenizer's language codes and their token ids (see the module docstring);
    empty when it has none."""
    table = getattr(tokenizer, "lang_code_to_id", None)
    if isinstance(table, dict) and table:
        return {str(code): int(i) for code, i in table.items()}
    extra = getattr(tokenizer, "extra_special_tokens", None) or []
    codes = [str(token) for token in extra] if isinstance(extra, list) else []
    ids = tokenizer.convert_tokens_to_ids(codes) if codes else []
    unk = getattr(tokenizer, "unk_token_id", None)
    return {code: i for code, i in zip(codes, ids, strict=True) if isinstance(i, int) and i != unk}


def folder_codes(path) -> list[str]:
    """The language codes the folder ``path`` offers (none for other families), from its
    tokenizer alone: a code past config.json's vocab_size is none the model can make."""
    from attnscope.engine.hf.loading import load_hf_tokenizer

    folder, tokenizer = load_hf_tokenizer(path)
    if folder.family not in MULTILINGUAL_FAMILIES:
        return []
    size = folder.config.get("vocab_size")
    limit = size if isinstance(size, int) else None
    return [c for c, i in offered_codes(tokenizer).items() if limit is None or i < limit]


class FolderLanguages:
    """The language pair of one opened folder (see the module docstring).

    tokenizer:  the folder's tokenizer (its ``src_lang`` is set here)
    step_model: the HfStepModel (its ``forced_first_token`` or ``start_token`` is set)
    codes:      language code -> model token id
    """

    def __init__(
        self, tokenizer: Any, step_model: Any, codes: dict[str, int], *, target_token: str
    ) -> None:
        self.tokenizer = tokenizer
        self.step_model = step_model
        self.codes = codes
        self.target_token = target_token
        self.source = next(iter(codes))
        self.target = self.source

    @classmethod
    def open(
        cls, family: str, model: Any, tokenizer: Any, step_model: Any
    ) -> FolderLanguages | None:
        """The folder's languages with its default pair chosen, or None when the family
        is not multilingual or the tokenizer offers no codes. A code whose id is outside
        the model's vocabulary (a tokenizer from another model) is no code it can use."""
        codes = offered_codes(tokenizer) if family in MULTILINGUAL_FAMILIES else {}
        codes = {code: i for code, i in codes.items() if 0 <= i < step_model.vocab.size}
        if not codes:
            return None
        as_start = type(tokenizer).__name__ == "MBartTokenizer"  # mBART-cc25
        languages = cls(
            tokenizer, step_model, codes, target_token=START_TOKEN if as_start else FORCED_FIRST
        )
        by_id = {i: code for code, i in codes.items()}
        generation = getattr(model, "generation_config", None)
        forced = getattr(generation, "forced_bos_token_id", None)
        forced = (
            forced if forced is not None else getattr(model.config, "forced_bos_token_id", None)
        )
        start = model.config.decoder_start_token_id if as_start else None
        told = getattr(tokenizer, "tgt_lang", None)
        target = by_id.get(forced) or by_id.get(start) or (told if told in codes else None)
        source = getattr(tokenizer, "src_lang", None)
        languages.select(
            source=source if source in codes else languages.source,
            target=target or next(iter(codes)),
        )
        return languages

    @property
    def pair(self) -> LanguagePair:
        return LanguagePair(tuple(self.codes), self.source, self.target, self.target_token)

    def select(self, *, source: str | None = None, target: str | None = None) -> LanguagePair:
        """Choose the source and/or target code (None keeps the current one); both are
        checked before either is applied, so a refusal changes nothing."""
        source = self.source if source is None else self.check(source, "source")
        target = self.target if target is None else self.check(target, "target")
        self.tokenizer.src_lang = source  # the tokenizer's setter re-marks the input
        if hasattr(self.tokenizer, "tgt_lang"):
            self.tokenizer.tgt_lang = target
        if self.target_token == START_TOKEN:
            self.step_model.start_token = self.codes[target]
        else:
            self.step_model.forced_first_token = self.codes[target]
        self.source, self.target = source, target
        return self.pair

    def check(self, code: str, side: str) -> str:
        """``code`` if the model offers it; else LanguageError naming close or first codes."""
        if code in self.codes:
            return code
        close = difflib.get_close_matches(str(code), self.codes, n=3, cutoff=0.5)
        shown = ", ".join(list(self.codes)[:SHOWN_CODES])
        more = ", …" if len(self.codes) > SHOWN_CODES else ""
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise LanguageError(
            f"unknown {side} language {code!r:.40}: {hint}this model offers "
            f"{len(self.codes)} codes: {shown}{more}"
        )


def add_language_arguments(parser) -> None:
    """``--src-lang`` / ``--tgt-lang`` of the text decoding commands (an argparse parser)."""
    parser.add_argument(
        "--src-lang",
        metavar="CODE",
        help="source language code of a multilingual folder (mBART en_XX, M2M100 en, "
        "NLLB eng_Latn; `attnscope info DIR --languages` lists them)",
    )
    parser.add_argument(
        "--tgt-lang",
        metavar="CODE",
        help="target language code of a multilingual folder: the decode starts with it",
    )


def choose_languages(args, *models) -> None:
    """Apply ``--src-lang`` / ``--tgt-lang`` to each loaded model that offers languages
    (``InferenceModel.hf.languages``); LanguageError for an unknown code, or when they
    are given and no model offers any. A multilingual model's pair goes to stderr, so a
    forgotten ``--tgt-lang`` does not go unnoticed."""
    source, target = getattr(args, "src_lang", None), getattr(args, "tgt_lang", None)
    offering = [m for m in models if getattr(getattr(m, "hf", None), "languages", None)]
    if (source or target) and not offering:
        raise LanguageError(
            "--src-lang / --tgt-lang are for multilingual folders (mBART, M2M100, NLLB); "
            f"{models[0].source_path.name} offers no choice of language"
        )
    for model in offering:
        pair = model.hf.languages.select(source=source, target=target)
        print(
            f"attnscope: {model.source_path.name} translates {pair.source} -> {pair.target}"
            + ("" if source and target else " (choose with --src-lang / --tgt-lang)"),
            file=sys.stderr,
        )
