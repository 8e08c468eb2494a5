"""`attnscope gui [CHECKPOINT]`: open the desktop app."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", nargs="?", help="checkpoint to open (default: the bundled demo)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (cuda when available, else cpu), cpu, cuda, cuda:N, mps",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.engine.devices import configure_threads
    from attnscope.gui.app import create_window, get_app

    configure_threads(reserve_for_gui=1)
    app = get_app()
    window = create_window(args.checkpoint, device=args.device)
    window.show()
    return app.exec()
