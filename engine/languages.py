"""Language codes a checkpoint records, and how they read ("German → English").

A checkpoint's info holds ``source_language`` (translation only) and
``target_language``: ISO 639-1 (``de``) or 639-3 (``cmn``) codes, optionally
with a script or region subtag as in BCP 47 (``zh-Hans``, ``pt-BR``). A
captioner's source is the picture: its pair reads "image → English". Codes are
checked with ``check_language_code``; a code this table does not name reads as
itself, and a malformed one in a file is ignored rather than shown.
Imports nothing heavy: the GUI reads it before torch is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SOURCE_KEY = "source_language"
TARGET_KEY = "target_language"
ARROW = "→"
_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

LANGUAGE_NAMES = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "ca": "Catalan",
    "cmn": "Chinese",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "deu": "German",
    "el": "Greek",
    "en": "English",
    "eng": "English",
    "es": "Spanish",
    "et": "Estonian",
    "fa": "Persian",
    "fi": "Finnish",
    "fr": "French",
    "fra": "French",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "id": "Indonesian",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "nl": "Dutch",
    "no": "Norwegian",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sv": "Swedish",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "zh": "Chinese",
    "zho": "Chinese",
}


def check_language_code(code: object, name: str = "language") -> str:
    """``code`` if it is an ISO 639 code (optionally with BCP 47 subtags), else ValueError."""
    if not isinstance(code, str) or len(code) > 35 or not _CODE.match(code):
        raise ValueError(
            f"{name} must be an ISO 639 code such as 'de', 'en' or 'zh-Hans', got {code!r:.40}"
        )
    return code


def language_name(code: str) -> str:
    """'German' for 'de', 'Chinese (zh-Hans)' for a subtagged code, the code if unknown."""
    primary = code.split("-", 1)[0]
    name = LANGUAGE_NAMES.get(primary)
    if name is None:
        return code
    return name if primary == code else f"{name} ({code})"


def _valid(code: Any) -> str | None:
    try:
        return check_language_code(code)
    except ValueError:
        return None


def language_pair(task: str, info: Mapping[str, Any] | None) -> str | None:
    """ "German → English" / "image → English" from a checkpoint's info; None if unrecorded."""
    info = info or {}
    target = _valid(info.get(TARGET_KEY))
    if target is None:
        return None
    if task == "captioning":
        return f"image {ARROW} {language_name(target)}"
    source = _valid(info.get(SOURCE_KEY))
    if source is None:
        return None
    return f"{language_name(source)} {ARROW} {language_name(target)}"


def language_entries(task: str, source: str | None, target: str | None) -> dict[str, str]:
    """The info entries for a pair, codes checked (a captioner takes no source language)."""
    entries: dict[str, str] = {}
    if source is not None:
        if task == "captioning":
            raise ValueError("a captioner's source is an image: give only the target language")
        entries[SOURCE_KEY] = check_language_code(source, "source language")
    if target is not None:
        entries[TARGET_KEY] = check_language_code(target, "target language")
    return entries
