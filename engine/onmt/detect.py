"""Is a ``.pt`` an OpenNMT-py checkpoint? Decided from its pickle's opcodes alone.

Torch-free and import-light (zipfile and pickletools only), so the app can ask on the GUI
thread before offering the conversion. Nothing is unpickled: ``pickletools.genops`` only
parses. A torch.save zip whose pickle names ``argparse.Namespace`` (OpenNMT-py's ``opt``)
is taken for one; the conversion then checks everything (engine/onmt/reader.py).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

MAX_PICKLE_BYTES = 64 * 1024 * 1024  # OpenNMT-py's pickle: options and vocabularies
_MARK = ("argparse", "Namespace")


def looks_like_onmt_checkpoint(path: str | Path) -> bool:
    """True if ``path`` is a torch.save zip whose pickle names argparse.Namespace."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = next((i for i in archive.infolist() if i.filename.endswith("/data.pkl")), None)
            if member is None or member.file_size > MAX_PICKLE_BYTES:
                return False
            data = archive.read(member)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError):
        return False
    return _names_namespace(data)


def _names_namespace(data: bytes) -> bool:
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name == "GLOBAL" and tuple(str(arg).split(" ", 1)) == _MARK:
                return True
            if opcode.name == "STACK_GLOBAL" and tuple(strings[-2:]) == _MARK:
                return True
            if isinstance(arg, str):
                strings.append(arg)
    except (ValueError, EOFError):  # not parseable: not a checkpoint we offer to convert
        return False
    return False
