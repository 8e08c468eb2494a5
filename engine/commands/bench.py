"""`attnscope bench [...]`: the performance figures, from the source checkout's benchmarks/.

The benchmarks are a package of the source tree (benchmarks/), not of the
installed product. When ``attnscope`` itself is imported from a checkout (an
editable install such as ``make`` makes, or PYTHONPATH=<checkout>), that
checkout's ``benchmarks`` package gets the arguments (benchmarks/command.py).
From an installed wheel there is none: the command says so in one line and
exits 2, like a usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType

EXIT_NEEDS_CHECKOUT = 2
NEEDS_CHECKOUT = (
    "attnscope bench runs from a source checkout: clone the repository, "
    "install it with `pip install -e .` (or `make run`) and run `make bench`"
)


def checkout_root() -> Path | None:
    """The source checkout ``attnscope`` is imported from, or None (an installed wheel).

    A checkout holds the ``attnscope`` package folder beside ``benchmarks/``
    and ``pyproject.toml``; a wheel puts ``attnscope`` in site-packages, where
    neither is.
    """
    import attnscope

    root = Path(attnscope.__file__).resolve().parents[1]
    if (root / "benchmarks" / "__init__.py").is_file() and (root / "pyproject.toml").is_file():
        return root
    return None


def benchmarks_command(root: Path) -> ModuleType:
    """``benchmarks.command`` of the checkout at ``root`` (put first on sys.path)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module("benchmarks.command")
    found = Path(module.__file__).resolve().parents[1]
    if found != root:
        raise ImportError(f"`benchmarks` was imported from {found}, not from the checkout {root}")
    return module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    root = checkout_root()
    if root is None:  # before argparse rejects flags it does not know
        parser.exit(EXIT_NEEDS_CHECKOUT, NEEDS_CHECKOUT + "\n")
    benchmarks_command(root).add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    root = checkout_root()
    if root is None:
        sys.stderr.write(NEEDS_CHECKOUT + "\n")
        return EXIT_NEEDS_CHECKOUT
    return benchmarks_command(root).run(args)
