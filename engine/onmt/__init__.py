"""OpenNMT-py RNN checkpoints, read without unpickling and mapped onto AttnScope's models.

``convert_onmt(MODEL.pt, OUT.safetensors)`` is ``attnscope import-onmt``;
``import_onmt`` gives the model in memory; ``is_onmt_checkpoint`` tells the app that a
``.pt`` is one (from its pickle's names alone). See docs/opennmt.md.
"""

from attnscope.engine.onmt.convert import ImportedModel, convert_onmt, import_onmt
from attnscope.engine.onmt.reader import (
    ALLOWED_GLOBALS,
    OnmtCheckpoint,
    is_onmt_checkpoint,
    read_onmt_checkpoint,
)

__all__ = [
    "ALLOWED_GLOBALS",
    "ImportedModel",
    "OnmtCheckpoint",
    "convert_onmt",
    "import_onmt",
    "is_onmt_checkpoint",
    "read_onmt_checkpoint",
]
