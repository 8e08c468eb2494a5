"""`attnscope info CKPT`: a JSON description of a checkpoint (exit 2 with one line if bad);
``languages`` reads its recorded pair as "German → English" when it has one. A folder
is read as a Hugging Face model folder (engine/hf/folder.py: config and files only)."""

from __future__ import annotations

import argparse
import json
import os

from attnscope.engine.commands.common import fail
from attnscope.engine.errors import AttnScopeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file, or a Hugging Face model folder")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.checkpoint import read_checkpoint_info
    from attnscope.engine.languages import language_pair

    if os.path.isdir(args.checkpoint):
        return _describe_hf_folder(args.checkpoint)
    try:
        info = read_checkpoint_info(args.checkpoint)
    except (AttnScopeError, OSError) as exc:
        from attnscope.engine.inference import folder_hint

        hint = folder_hint(args.checkpoint)
        return fail(f"{exc}; {hint}" if hint else str(exc))
    languages = language_pair(info["task"], info.get("training_info"))
    info = {"languages": languages, **info} if languages else info
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0


def _describe_hf_folder(path: str) -> int:
    from attnscope.engine.hf.folder import read_hf_folder

    try:
        info = read_hf_folder(path).describe()
    except (AttnScopeError, OSError) as exc:
        return fail(str(exc))
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0
