"""`attnscope info CKPT`: a JSON description of a checkpoint (exit 2 with one line if bad);
``languages`` reads its recorded pair as "German → English" when it has one."""

from __future__ import annotations

import argparse
import json

from attnscope.engine.commands.common import fail
from attnscope.engine.errors import AttnScopeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.checkpoint import read_checkpoint_info
    from attnscope.engine.languages import language_pair

    try:
        info = read_checkpoint_info(args.checkpoint)
    except (AttnScopeError, OSError) as exc:
        return fail(str(exc))
    languages = language_pair(info["task"], info.get("training_info"))
    info = {"languages": languages, **info} if languages else info
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0
