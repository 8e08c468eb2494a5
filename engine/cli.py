"""The `attnscope` command line: one entry point with subcommands."""

from __future__ import annotations

import argparse

from attnscope import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnscope", description=__doc__)
    parser.add_argument("--version", action="version", version=f"attnscope {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    return 0
