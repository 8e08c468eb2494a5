"""Decoding: one model-agnostic loop driving greedy, beam or sampling search.

    from attnscope.engine.decoding import DecodeConfig, decode, decode_steps

``decode_steps`` yields a ``StepResult`` per input and step and returns one
``DecodeResult`` per input; ``decode`` runs it to the end. Everything a
decode hands out is plain numpy / Python data.
"""

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.driver import (
    STRATEGIES,
    DecodeLoop,
    build_strategy,
    decode,
    decode_steps,
)
from attnscope.engine.decoding.results import DecodeResult, Hypothesis, SearchTree, StepResult

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "STRATEGIES",
    "UNK_ID",
    "DecodeConfig",
    "DecodeLoop",
    "DecodeResult",
    "Hypothesis",
    "SearchTree",
    "StepResult",
    "build_strategy",
    "decode",
    "decode_steps",
]
