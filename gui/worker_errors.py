"""What the model worker says when a request fails: one line for the user, memory handed back.

Kept free of torch imports: torch is looked up only if the worker already loaded it.
"""

from __future__ import annotations

import sys

from attnscope.engine.errors import AttnScopeError


def is_out_of_memory(exc: BaseException) -> bool:
    """Host or device (CUDA, MPS) memory ran out."""
    torch = sys.modules.get("torch")  # not imported yet: no tensor can have run out
    out_of_memory = getattr(torch, "OutOfMemoryError", MemoryError)
    return isinstance(exc, MemoryError | out_of_memory) or "out of memory" in str(exc).lower()


def describe_error(exc: BaseException) -> str:
    """One user-facing line for any failure inside the worker."""
    if is_out_of_memory(exc):
        return (
            "Out of memory while running the model. Try a shorter input, a smaller beam, "
            "or switch the device to CPU."
        )
    if isinstance(exc, AttnScopeError | ValueError):  # engine errors say what was wrong
        return str(exc)
    return f"Unexpected error ({type(exc).__name__}): {exc}"


def release_cached_memory(exc: BaseException) -> None:
    """After running out of device memory, hand the allocator's cache back (next try may fit)."""
    torch = sys.modules.get("torch")
    if torch is not None and is_out_of_memory(exc) and torch.cuda.is_available():
        torch.cuda.empty_cache()
