"""JSON-ready values: how every AttnScope record turns arrays and dataclasses into JSON.

``to_jsonable`` makes one value JSON-ready with one rounding rule for every float;
``json_line`` writes a record as one line of strict JSON. The decode record
(engine/decode_record.py, which re-exports both), the compare record, session
manifests and the CLI's ``--json`` outputs all go through here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

SIGNIFICANT_DIGITS = 7  # float32 precision: the arrays come from float32 tensors


def to_jsonable(value: Any) -> Any:
    """``value`` as JSON types: numpy arrays -> nested lists, tuples and sets -> lists,
    dataclasses -> dicts, paths -> strings, numpy scalars -> Python numbers.

    Every float is rounded to ``SIGNIFICANT_DIGITS`` significant digits (the
    precision of the float32 arrays it mostly comes from) and a non-finite one
    (NaN, ±inf, e.g. a log-probability of -inf) becomes None, so the output is
    strict JSON any parser reads. Raises ValueError for anything else.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return _float_array(value)
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return _rounded(value)
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return [to_jsonable(item) for item in sorted(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise ValueError(f"cannot write a {type(value).__name__} to JSON: {value!r:.80}")


def _rounded(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def _float_array(array: np.ndarray) -> list | float | None:
    """A float array as nested lists, rounded as ``to_jsonable`` rounds one float (flat loop:
    attention arrays hold tens of thousands of values)."""
    values = array.astype(np.float64)
    finite = np.isfinite(values)
    rounded = np.array(
        [float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values.ravel().tolist()], dtype=np.float64
    ).reshape(values.shape)
    if finite.all():
        return rounded.tolist()
    with_none = rounded.astype(object)
    with_none[~finite] = None
    return with_none.tolist()


def json_line(record: Mapping[str, Any]) -> str:
    """One record as a single line of strict JSON (no trailing newline), valid UTF-8.

    U+2028, U+2029 and NEL are written escaped (readers that split with
    ``str.splitlines`` would break the line there); a lone surrogate (from a file name
    that is not UTF-8) cannot be encoded and becomes U+FFFD.
    """
    text = json.dumps(to_jsonable(record), ensure_ascii=False, allow_nan=False)
    return _UNSAFE_IN_A_LINE.sub(_escape_unsafe, text)


_UNSAFE_IN_A_LINE = re.compile("[\u2028\u2029\x85\ud800-\udfff]")


def _escape_unsafe(match: re.Match[str]) -> str:
    char = match[0]
    return "\ufffd" if "\ud800" <= char <= "\udfff" else f"\\u{ord(char):04x}"
