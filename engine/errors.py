"""The few exceptions AttnScope raises on purpose.

Every one derives from ``AttnScopeError`` so the GUI (and the CLI) can turn
them into a user-facing message in one place; the input-validation ones are
also ``ValueError`` so plain library callers can catch them the usual way.
Messages say what was wrong and with which value or file.
"""

from __future__ import annotations


class AttnScopeError(Exception):
    """Base of every error AttnScope raises deliberately."""


class CheckpointError(AttnScopeError, ValueError):
    """A checkpoint file is missing, malformed, hostile or does not fit its model."""


class TokenizerError(AttnScopeError, ValueError):
    """A tokenizer model cannot be loaded, trained or used."""


class ImageInputError(AttnScopeError, ValueError):
    """An image cannot be read: not an image, truncated, corrupt or too large."""


class MaskError(AttnScopeError, ValueError):
    """An image what-if mask cannot be used: wrong shape or dtype, empty, covering the
    whole picture, or an unknown fill."""


class InputTextError(AttnScopeError, ValueError):
    """Text given to a model is unusable (for example empty or far too long)."""


class DataError(AttnScopeError, ValueError):
    """A training or evaluation data file is missing or malformed."""


class DeviceError(AttnScopeError, ValueError):
    """A requested compute device or precision is unknown or not available here."""


class SessionFileError(AttnScopeError, ValueError):
    """A saved session (.attnscope-session) is malformed, hostile, or does not match its
    checkpoint."""


class DecodeCancelled(AttnScopeError):
    """A running decode was cancelled by its caller (not a failure)."""


__all__ = [
    "AttnScopeError",
    "CheckpointError",
    "DataError",
    "DecodeCancelled",
    "DeviceError",
    "ImageInputError",
    "InputTextError",
    "MaskError",
    "SessionFileError",
    "TokenizerError",
]
