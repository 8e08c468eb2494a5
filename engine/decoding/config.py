"""``DecodeConfig``: every setting of a decode, frozen and validated once.

Special token ids are fixed for every tokenizer and checkpoint (see
docs/CONTRACTS.md): pad 0, unk 1, bos 2, eos 3. Decoding starts from bos and a
hypothesis ends when it emits eos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

PAD_ID = 0
UNK_ID = 1
BOS_ID = 2
EOS_ID = 3

STRATEGY_NAMES = ("greedy", "beam", "sampling")
LENGTH_PENALTY_NAMES = ("none", "average", "gnmt")
COVERAGE_PENALTY_NAMES = ("none", "gnmt")

# Extra tokens allowed on top of ``ratio · source length`` (short sources still
# get room for a few tokens and eos).
RATIO_SLACK = 5


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")


# Upper bounds: a decode's cost grows with each, and a checkpoint's recommended decoding is
# as untrusted as a command-line option (a beam of 10**8 would exhaust memory).
MAX_BEAM = 64
MAX_LENGTH = 1024
MAX_TOKENS_OPTION = 1_000_000  # top_k, topk_alternatives: at most a vocabulary
MAX_NGRAM = 16
MAX_PENALTY = 10.0  # alpha, beta
MAX_LENGTH_RATIO = 100.0
TEMPERATURE_RANGE = (1e-3, 100.0)
MAX_SEED = 2**63 - 1  # what torch.Generator.manual_seed takes


def _check_int(name: str, value: object, minimum: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer in {minimum}..{maximum:,}, got {value!r:.40}")


def _check_float(
    name: str, value: object, *, minimum: float, maximum: float, inclusive: bool = True
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= minimum if inclusive else value > minimum) and value <= maximum
    if not ok:
        low = "[" if inclusive else "("
        raise ValueError(
            f"{name} must be a finite number in {low}{minimum}, {maximum}], got {value!r:.40}"
        )


@dataclass(frozen=True)
class DecodeConfig:
    """How to turn a model's step into output tokens.

    strategy:           "greedy" | "beam" | "sampling"
    beam_size:          hypotheses kept per input (beam only)
    n_best:             hypotheses returned per input (beam only; <= beam_size)
    max_length:         hard cap on generated tokens, eos included
    max_length_ratio:   if > 0, an input with S source positions may generate at most
                        ``min(max_length, ceil(max_length_ratio * S) + RATIO_SLACK)``
                        tokens; 0 turns the rule off (use 0 for captioning, where
                        S counts image cells)
    min_length:         eos is banned until this many tokens have been generated
    length_penalty:     "none" (sum of log-probs), "average" (divide by length) or
                        "gnmt" (divide by ((5 + length) / 6) ** alpha, Wu et al. 2016)
    alpha:              strength of the gnmt length penalty
    coverage_penalty:   "none" or "gnmt": add beta · Σ_source log(min(Σ_t attention, 1))
    beta:               strength of the coverage penalty
    block_ngram_repeat: n > 0 forbids any hypothesis to repeat one of its n-grams
    ban_unk:            never generate the unk token
    temperature:        sampling: divide the log-probs by this before sampling
    top_k:              sampling: keep the k most likely tokens (0 = all)
    top_p:              sampling: keep the smallest set with probability >= p (1 = all)
    seed:               sampling: seed of the generator (None = a fresh random seed)
    topk_alternatives:  candidates reported per step and hypothesis (0 = none)
    step_entropy:       record the entropy of each step's distribution
                        (``StepResult.entropy``, what entropy breakpoints read); off
                        by default because it reads every (N, V) block once more:
                        about +19 % time on a batch beam-5 decode of the default
                        de-en model (60 lines, one CPU thread).
                        Sessions and ``translate --flag`` turn it on

    Penalties only change the final score used to rank finished hypotheses;
    the length counts generated tokens, eos included.
    """

    strategy: str = "greedy"
    beam_size: int = 5
    n_best: int = 1
    max_length: int = 100
    max_length_ratio: float = 2.0
    min_length: int = 0
    length_penalty: str = "none"
    alpha: float = 0.0
    coverage_penalty: str = "none"
    beta: float = 0.0
    block_ngram_repeat: int = 0
    ban_unk: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    topk_alternatives: int = 10
    step_entropy: bool = False

    def __post_init__(self) -> None:
        _check_choice("decoding strategy", self.strategy, STRATEGY_NAMES)
        _check_choice("length penalty", self.length_penalty, LENGTH_PENALTY_NAMES)
        _check_choice("coverage penalty", self.coverage_penalty, COVERAGE_PENALTY_NAMES)
        _check_int("beam_size", self.beam_size, 1, MAX_BEAM)
        _check_int("n_best", self.n_best, 1, MAX_BEAM)
        if self.n_best > self.beam_size:
            raise ValueError(f"n_best ({self.n_best}) cannot exceed beam_size ({self.beam_size})")
        _check_int("max_length", self.max_length, 1, MAX_LENGTH)
        _check_float(
            "max_length_ratio", self.max_length_ratio, minimum=0.0, maximum=MAX_LENGTH_RATIO
        )
        _check_int("min_length", self.min_length, 0, MAX_LENGTH)
        _check_float("alpha", self.alpha, minimum=0.0, maximum=MAX_PENALTY)
        _check_float("beta", self.beta, minimum=0.0, maximum=MAX_PENALTY)
        _check_int("block_ngram_repeat", self.block_ngram_repeat, 0, MAX_NGRAM)
        if not isinstance(self.ban_unk, bool):
            raise ValueError(f"ban_unk must be a bool, got {self.ban_unk!r}")
        low, high = TEMPERATURE_RANGE
        _check_float("temperature", self.temperature, minimum=low, maximum=high)
        _check_int("top_k", self.top_k, 0, MAX_TOKENS_OPTION)
        _check_float("top_p", self.top_p, minimum=0.0, maximum=1.0, inclusive=False)
        if self.seed is not None:
            _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("topk_alternatives", self.topk_alternatives, 0, MAX_TOKENS_OPTION)
        if not isinstance(self.step_entropy, bool):
            raise ValueError(f"step_entropy must be a bool, got {self.step_entropy!r}")

    @classmethod
    def from_dict(cls, values: Any, *, base: DecodeConfig | None = None) -> DecodeConfig:
        """``base`` (default settings) with the fields ``values`` names; every value validated.

        For settings from a file (a checkpoint's recommended decoding): a key that is no
        field, or any bad value, raises ValueError naming the field.
        """
        if not isinstance(values, dict):
            raise ValueError(f"decoding settings must be a mapping, got {type(values).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in values if k not in known)
        if unknown:
            raise ValueError(f"unknown decoding settings: {', '.join(unknown)[:200]}")
        return replace(base or cls(), **values)

    def max_length_for(self, source_length: int) -> int:
        """Most tokens (eos included) an input with ``source_length`` positions may get."""
        if self.max_length_ratio <= 0:
            return self.max_length
        by_ratio = math.ceil(self.max_length_ratio * source_length) + RATIO_SLACK
        return max(1, min(self.max_length, by_ratio))
