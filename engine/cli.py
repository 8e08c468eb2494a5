"""The `attnscope` command line: one entry point, one module per subcommand.

Each module under ``attnscope.engine.commands`` (or ``attnscope.gui`` for the
app) exposes ``add_arguments(parser)`` and ``run(args) -> int``. Modules are
imported only when their subcommand runs, so `attnscope --help` and the
app's start-up don't pay for torch or Qt they don't use.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from attnscope import __version__

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("attnscope.gui.launch", "open the desktop app (the default)"),
    "translate": ("attnscope.engine.commands.translate", "translate lines from stdin or a file"),
    "caption": ("attnscope.engine.commands.caption", "caption images or a folder of images"),
    "info": ("attnscope.engine.commands.info", "describe a checkpoint as JSON"),
    "train": ("attnscope.engine.commands.train", "train a translation or captioning model"),
    "evaluate": ("attnscope.engine.commands.evaluate", "score a checkpoint (BLEU/chrF, CIDEr-D)"),
    "score": (
        "attnscope.engine.commands.score",
        "how likely the model finds each reference, and where it disagrees",
    ),
    "compare": (
        "attnscope.engine.commands.compare",
        "two checkpoints on the same lines: outputs, cross-scores, attention agreement",
    ),
    "import-onmt": (
        "attnscope.engine.commands.import_onmt",
        "convert an OpenNMT-py RNN checkpoint (.pt) without running its pickle",
    ),
    "align-eval": (
        "attnscope.engine.commands.align_eval",
        "word alignment error rate of attention or attributions against gold links",
    ),
    "explain": (
        "attnscope.engine.commands.explain",
        "attribution beside attention for every line of a file, with their agreement",
    ),
    "pointing": (
        "attnscope.engine.commands.pointing",
        "does attention or an attribution point at the named shape? (shapes captioner)",
    ),
    "bench": (
        "attnscope.engine.commands.bench",
        "print performance figures as JSON (from a source checkout)",
    ),
}

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl+C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cmd | head`


def _load(name: str):
    module_name, _ = SUBCOMMANDS[name]
    return importlib.import_module(module_name)


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the subcommand ``load`` gets its full arguments."""
    parser = argparse.ArgumentParser(
        prog="attnscope",
        description="Desktop workbench for attention-based encoder-decoder models.",
    )
    parser.add_argument("--version", action="version", version=f"attnscope {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == load:
            _load(name).add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    if first not in SUBCOMMANDS and not {"-h", "--help", "--version"} & set(argv):
        argv.insert(0, "gui")  # `attnscope [CHECKPOINT]` opens the app
        first = "gui"
    args = build_parser(load=first).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        build_parser().print_help()
        return 0
    try:
        return int(_load(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("attnscope: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """The reader of stdout went away (``attnscope info CKPT | head``): point stdout at
    /dev/null so the interpreter's last flush does not print a traceback either."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (tests capture it)
        pass
    finally:
        os.close(devnull)
