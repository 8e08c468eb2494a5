"""What a user changed in a decode, as plain data: forced tokens, attention edits, masks.

Each intervention is a frozen dataclass with ``to_dict()`` and ``from_dict(d)``; its JSON
form is ``{"kind": "force" | "attention" | "mask", ...fields}`` and
``intervention_from_dict(d)`` dispatches on the kind. Constructing one validates it
(types, shapes, finite values, sums, sizes), so a hostile session file or a bad edit
gives one ValueError naming the field, and nothing else changes.

- ``ForceToken(step, token_id)``: the token imposed at a step;
- ``AttentionEdit(step, weights)``: the attention used at a step instead of the
  model's, weights (heads, S) float32, each row summing to 1;
- ``ImageMask(mask, fill, seed)``: pixels of the picture (H, W) bool replaced by a
  grey, blurred or noise fill before encoding (applied by engine/image_masks.py).

The three edits the what-if offers on one attention row (heads, S) are ``pin``,
``zero`` and ``set_weight``. ``plan_from_interventions`` turns a session's forced
tokens and attention edits into the step loop's plan, which is how a replay takes
them again.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_STEPS = 4096  # steps of one decode (as a session file allows)
MAX_TOKEN_ID = 2**31 - 1
MAX_HEADS = 64  # attention heads of one decoder layer
MAX_LAYERS = 64  # decoder layers whose heads a step reports (layer-major rows)
MAX_SOURCE_POSITIONS = 16_384  # text pieces or picture grid cells
# an edit holds at most as many weights as 64 heads over the longest source
MAX_EDIT_WEIGHTS = MAX_HEADS * MAX_SOURCE_POSITIONS
MAX_MASK_SIDE = 8192  # pixels per side of a picture mask
MASK_FILLS = ("grey", "blur", "noise")
SUM_TOLERANCE = 1e-3  # how far from 1 an edited row may sum (float32 round-off, JSON)


def _int_field(value: Any, field: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high]; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{field} must be an integer, got {type(value).__name__} {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{field} must be in {low}..{high}, got {value}")
    return int(value)


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


def _fields(d: Any, kind: str, names: Sequence[str]) -> Mapping[str, Any]:
    """``d`` checked to be a mapping of this kind with exactly ``names`` (plus "kind")."""
    if not isinstance(d, Mapping):
        raise ValueError(f"an intervention must be a JSON object, got {type(d).__name__}")
    if d.get("kind", kind) != kind:
        raise ValueError(f"kind must be {kind!r}, got {d.get('kind')!r}")
    missing = [name for name in names if name not in d]
    if missing:
        raise ValueError(f"{kind} intervention lacks {', '.join(missing)}")
    unknown = sorted(set(d) - set(names) - {"kind"})
    if unknown:
        raise ValueError(f"{kind} intervention has unknown fields: {', '.join(map(str, unknown))}")
    return d


@dataclass(frozen=True)
class ForceToken:
    """The token ``token_id`` imposed at ``step`` (0-based)."""

    step: int
    token_id: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", _int_field(self.step, "step", 0, MAX_STEPS - 1))
        token = _int_field(self.token_id, "token_id", 0, MAX_TOKEN_ID)
        object.__setattr__(self, "token_id", token)

    def describe(self) -> str:
        return f"step {self.step}: token {self.token_id} forced"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "force", "step": self.step, "token_id": self.token_id}

    @classmethod
    def from_dict(cls, d: Any) -> ForceToken:
        d = _fields(d, "force", ("step", "token_id"))
        return cls(step=d["step"], token_id=d["token_id"])


def check_attention_row(weights: Any, field: str = "weights") -> np.ndarray:
    """``weights`` as a read-only (heads, S) float32 array of a valid attention row.

    Finite, non-negative, each head's row summing to 1 (within ``SUM_TOLERANCE``),
    at most ``MAX_HEADS`` heads in each of ``MAX_LAYERS`` layers (a Hugging Face model
    reports layers · heads rows), ``MAX_SOURCE_POSITIONS`` positions and
    ``MAX_EDIT_WEIGHTS`` weights in all. ValueError naming ``field``.
    """
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field} must be a (heads, S) array of numbers: {exc}") from exc
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"{field} must be a (heads, S) array, got shape {array.shape}")
    heads, length = array.shape
    rows = MAX_HEADS * MAX_LAYERS
    if heads > rows or length > MAX_SOURCE_POSITIONS or array.size > MAX_EDIT_WEIGHTS:
        raise ValueError(
            f"{field} has shape {array.shape}; at most {rows} heads (of all layers), "
            f"{MAX_SOURCE_POSITIONS} source positions and {MAX_EDIT_WEIGHTS} weights"
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{field} contains NaN or infinite values")
    if (array < 0).any():
        raise ValueError(f"{field} contains negative weights")
    sums = array.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1)))
    if abs(sums[worst] - 1) > SUM_TOLERANCE:
        raise ValueError(f"{field}: head {worst} sums to {sums[worst]:.6g}, not 1")
    return _read_only(array.astype(np.float32))


@dataclass(frozen=True, eq=False)
class AttentionEdit:
    """At ``step`` the decoder uses ``weights`` (heads, S) float32 as its attention.

    Rows sum to 1 (the model renormalises them exactly); the array is a read-only copy.
    """

    step: int
    weights: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", _int_field(self.step, "step", 0, MAX_STEPS - 1))
        object.__setattr__(self, "weights", check_attention_row(self.weights))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AttentionEdit):
            return NotImplemented
        return self.step == other.step and np.array_equal(self.weights, other.weights)

    __hash__ = None  # holds an array

    def describe(self) -> str:
        heads, length = self.weights.shape
        peak = int(np.argmax(self.weights.sum(axis=0)))
        return f"step {self.step}: attention edited ({heads} × {length}, most on position {peak})"

    def to_dict(self) -> dict[str, Any]:
        # float32 -> Python float is exact, and JSON keeps it: a round trip is bit-exact
        return {"kind": "attention", "step": self.step, "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, d: Any) -> AttentionEdit:
        d = _fields(d, "attention", ("step", "weights"))
        weights = d["weights"]
        if not isinstance(weights, list) or not all(isinstance(row, list) for row in weights):
            raise ValueError("weights must be a list of rows (one per head) of numbers")
        if any(isinstance(x, bool) or not isinstance(x, int | float) for r in weights for x in r):
            raise ValueError("weights must hold only numbers")
        return cls(step=d["step"], weights=weights)


def _mask_array(mask: Any) -> np.ndarray:
    """``mask`` as a read-only (H, W) bool array, both sides 1..MAX_MASK_SIDE."""
    array = np.asarray(mask)
    if array.dtype != np.bool_:
        raise ValueError(f"mask must be a boolean (H, W) array, got dtype {array.dtype}")
    if array.ndim != 2 or min(array.shape) < 1 or max(array.shape) > MAX_MASK_SIDE:
        raise ValueError(
            f"mask must be (H, W) with sides 1..{MAX_MASK_SIDE}, got shape {array.shape}"
        )
    if not array.any():
        raise ValueError("mask covers no pixel; paint the region to hide first")
    return _read_only(array)


def _mask_to_json(mask: np.ndarray) -> dict[str, Any]:
    bits = np.packbits(mask.reshape(-1))
    return {"shape": list(mask.shape), "bits": base64.b64encode(bits.tobytes()).decode("ascii")}


def _mask_from_json(value: Any) -> np.ndarray:
    """A mask from {"shape": [H, W], "bits": base64 of packed bits} or nested lists of bools."""
    if isinstance(value, list):
        if any(not isinstance(row, list) for row in value) or any(
            not isinstance(x, bool) for row in value for x in row
        ):
            raise ValueError("mask as lists must be rows of true/false")
        return np.array(value, dtype=bool)
    if not isinstance(value, Mapping) or set(value) != {"shape", "bits"}:
        raise ValueError('mask must be {"shape": [H, W], "bits": base64} or rows of booleans')
    shape = value["shape"]
    if not isinstance(shape, list) or len(shape) != 2:
        raise ValueError(f"mask shape must be [H, W], got {shape!r}")
    height = _int_field(shape[0], "mask height", 1, MAX_MASK_SIDE)
    width = _int_field(shape[1], "mask width", 1, MAX_MASK_SIDE)
    if not isinstance(value["bits"], str):
        raise ValueError("mask bits must be a base64 string")
    try:
        packed = base64.b64decode(value["bits"], validate=True)
    except ValueError as exc:
        raise ValueError(f"mask bits are not valid base64: {exc}") from exc
    if len(packed) != math.ceil(height * width / 8):
        raise ValueError(
            f"mask bits hold {len(packed)} bytes; a {height}×{width} mask needs "
            f"{math.ceil(height * width / 8)}"
        )
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=height * width)
    return bits.astype(bool).reshape(height, width)


@dataclass(frozen=True, eq=False)
class ImageMask:
    """Pixels ``mask`` (H, W) bool of the picture replaced by ``fill`` before encoding.

    fill: one of ``MASK_FILLS``; seed: drives the "noise" fill (0..2**32 - 1).
    """

    mask: np.ndarray
    fill: str = "grey"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask", _mask_array(self.mask))
        if self.fill not in MASK_FILLS:
            raise ValueError(f"fill must be one of {', '.join(MASK_FILLS)}, got {self.fill!r}")
        object.__setattr__(self, "seed", _int_field(self.seed, "seed", 0, 2**32 - 1))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImageMask):
            return NotImplemented
        same = (self.fill, self.seed) == (other.fill, other.seed)
        return same and np.array_equal(self.mask, other.mask)

    __hash__ = None  # holds an array

    def describe(self) -> str:
        share = float(self.mask.mean())
        return f"{share:.0%} of the picture masked with {self.fill}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "mask",
            "mask": _mask_to_json(self.mask),
            "fill": self.fill,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: Any) -> ImageMask:
        d = _fields(d, "mask", ("mask", "fill", "seed"))
        if not isinstance(d["fill"], str):
            raise ValueError(f"fill must be a string, got {type(d['fill']).__name__}")
        return cls(mask=_mask_from_json(d["mask"]), fill=d["fill"], seed=d["seed"])


Intervention = ForceToken | AttentionEdit | ImageMask
INTERVENTION_KINDS: dict[str, type[Intervention]] = {
    "force": ForceToken,
    "attention": AttentionEdit,
    "mask": ImageMask,
}


def intervention_from_dict(d: Any) -> Intervention:
    """The intervention a JSON object describes; ValueError naming what was wrong."""
    if not isinstance(d, Mapping):
        raise ValueError(f"an intervention must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind")
    if kind not in INTERVENTION_KINDS:
        raise ValueError(
            f"unknown intervention kind {kind!r}; valid: {', '.join(INTERVENTION_KINDS)}"
        )
    return INTERVENTION_KINDS[kind].from_dict(d)


def plan_from_interventions(
    interventions: Sequence[ForceToken | AttentionEdit],
) -> tuple[int | AttentionEdit | None, ...]:
    """The step loop's plan that takes these interventions again: entry i is the forced
    token id or the AttentionEdit of step i, None where the model chooses.

    Two interventions on one step, or an ImageMask (it changes the input, not a
    step), raise ValueError.
    """
    plan: dict[int, int | AttentionEdit] = {}
    for item in interventions:
        if not isinstance(item, ForceToken | AttentionEdit):
            raise ValueError(f"a step plan takes forced tokens and attention edits, not {item!r}")
        if item.step in plan:
            raise ValueError(f"two interventions on step {item.step}")
        plan[item.step] = item.token_id if isinstance(item, ForceToken) else item
    length = max(plan, default=-1) + 1
    return tuple(plan.get(step) for step in range(length))


# -- the three edits of one attention row (heads, S) --------------------------------------
def _row(weights: Any, source_index: int) -> np.ndarray:
    """A writable float64 copy of a valid row, with ``source_index`` checked against S."""
    array = check_attention_row(weights).astype(np.float64)
    length = array.shape[1]
    _int_field(source_index, "source index", 0, length - 1)
    return array


def _normalised(array: np.ndarray) -> np.ndarray:
    return (array / array.sum(axis=1, keepdims=True)).astype(np.float32)


def pin(weights: Any, source_index: int) -> np.ndarray:
    """All the attention on ``source_index``, for every head: (heads, S) float32."""
    array = _row(weights, source_index)
    pinned = np.zeros(array.shape, dtype=np.float32)
    pinned[:, source_index] = 1.0
    return pinned


def zero(weights: Any, source_index: int) -> np.ndarray:
    """``source_index`` gets no attention in any head; the rest renormalised: (heads, S).

    Refused (ValueError) when a head puts all its weight there: nothing would be left.
    """
    array = _row(weights, source_index)
    array[:, source_index] = 0.0
    empty = np.flatnonzero(array.sum(axis=1) <= 0)
    if empty.size:
        raise ValueError(
            f"head {int(empty[0])} attends only to position {source_index}; zeroing it "
            "would leave no attention (pin another position instead)"
        )
    return _normalised(array)


def set_weight(
    weights: Any, source_index: int, value: float, head: int | None = None
) -> np.ndarray:
    """``source_index`` gets weight ``value`` in ``head`` (None: every head); the other
    positions are rescaled so each row still sums to 1: (heads, S) float32.

    When the others hold no weight (a pinned row), the rest is shared evenly among them.
    A single-position source can only have weight 1.
    """
    array = _row(weights, source_index)
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValueError(f"weight must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"weight must be between 0 and 1, got {value}")
    heads, length = array.shape
    rows = range(heads) if head is None else [_int_field(head, "head", 0, heads - 1)]
    if length == 1:
        if value != 1.0:
            raise ValueError("the source has one position; its weight is always 1")
        return array.astype(np.float32)
    for h in rows:
        others = np.ones(length, dtype=bool)
        others[source_index] = False
        rest = array[h, others].sum()
        share = array[h, others] / rest if rest > 0 else np.full(length - 1, 1 / (length - 1))
        array[h, others] = share * (1.0 - value)
        array[h, source_index] = value
    return array.astype(np.float32)


__all__ = [
    "INTERVENTION_KINDS",
    "MASK_FILLS",
    "AttentionEdit",
    "ForceToken",
    "ImageMask",
    "Intervention",
    "check_attention_row",
    "intervention_from_dict",
    "pin",
    "plan_from_interventions",
    "set_weight",
    "zero",
]
