"""Decoding: one model-agnostic step loop driving greedy, beam or sampling search.

    from attnscope.engine.decoding import DecodeConfig, decode, decode_steps

``decode_steps`` yields a ``StepResult`` per input and step and returns one
``DecodeResult`` per input; ``decode`` runs it to the end. Everything a
decode hands out is plain numpy / Python data.
"""

from attnscope.engine.decoding.config import BOS_ID, EOS_ID, PAD_ID, UNK_ID, DecodeConfig
from attnscope.engine.decoding.driver import (
    STRATEGIES,
    DecodeStepper,
    build_strategy,
    decode,
    decode_steps,
)
from attnscope.engine.decoding.results import DecodeResult, Hypothesis, SearchTree, StepResult
from attnscope.engine.decoding.step_loop import StepLoop, is_cancelled, raise_if_cancelled
from attnscope.engine.decoding.step_model import StepMemory, StepModel

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "STRATEGIES",
    "UNK_ID",
    "DecodeConfig",
    "DecodeResult",
    "DecodeStepper",
    "Hypothesis",
    "SearchTree",
    "StepLoop",
    "StepMemory",
    "StepModel",
    "StepResult",
    "build_strategy",
    "decode",
    "decode_steps",
    "is_cancelled",
    "raise_if_cancelled",
]
