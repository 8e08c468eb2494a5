"""What a worker (the model's, compare mode's, the run folder's) says when a request fails:
one line for the user, memory handed back.

Kept free of torch imports: torch is looked up only if the worker already loaded it.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import Any

from attnscope.engine.errors import AttnScopeError, DecodeCancelled


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


def report_failure(log: logging.Logger, request: str, exc: BaseException) -> str:
    """Log a failed worker request (a refusal in one line, anything else with its traceback),
    hand cached device memory back, and return the user's line."""
    if isinstance(exc, AttnScopeError | ValueError):  # bad input, said clearly
        log.info("%s refused: %s", request, exc)
    else:
        log.exception("%s failed", request)
    release_cached_memory(exc)
    return describe_error(exc)


def guarded_slot(log: logging.Logger, *, clears_cancel: bool = False) -> Callable:
    """A decorator for a worker's request slots: any exception becomes one ``failed`` line,
    a cancel the ``cancelled`` signal, never a crash. The worker has ``busy``, ``failed``
    and ``cancelled`` signals and ``_running`` (falsy unless a Run is going, which keeps
    ``busy`` on). ``clears_cancel``: every request starts with the cancel event clear."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any) -> None:
            self.busy.emit(True)
            if clears_cancel:
                self._cancel.clear()  # set by this request's client call, or an earlier one's
            try:
                method(self, *args)
            except DecodeCancelled:
                self.cancelled.emit()
            except Exception as exc:  # the one place exceptions become messages
                self.failed.emit(report_failure(log, f"request {method.__name__}", exc))
            finally:
                if not self._running:
                    self.busy.emit(False)

        return wrapper

    return decorate
