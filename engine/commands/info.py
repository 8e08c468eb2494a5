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
    parser.add_argument(
        "--languages",
        action="store_true",
        help="a folder: also build its tokenizer and list the language codes a "
        "multilingual one offers (mBART, M2M100, NLLB: --src-lang / --tgt-lang)",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.checkpoint import read_checkpoint_info
    from attnscope.engine.languages import language_pair

    if os.path.isdir(args.checkpoint):
        return _describe_hf_folder(args.checkpoint, languages=args.languages)
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


def _describe_hf_folder(path: str, *, languages: bool = False) -> int:
    from attnscope.engine.hf.folder import read_hf_folder
    from attnscope.engine.hf.multilingual import folder_codes

    try:
        info = read_hf_folder(path).describe()
        if languages:
            info["language_codes"] = folder_codes(path)
    except (AttnScopeError, OSError) as exc:
        return fail(str(exc))
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0
