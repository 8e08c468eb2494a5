"""`attnscope info CKPT`: a JSON description of a checkpoint (exit 2 with one line if bad)."""

from __future__ import annotations

import argparse
import json

from attnscope.engine.commands.common import fail
from attnscope.engine.errors import AttnScopeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file")


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.checkpoint import read_checkpoint_info

    try:
        info = read_checkpoint_info(args.checkpoint)
    except (AttnScopeError, OSError) as exc:
        return fail(str(exc))
    print(json.dumps(info, indent=2, ensure_ascii=False))
    return 0
