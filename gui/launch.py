"""`attnscope gui [CHECKPOINT]`: open the desktop app.

``ATTNSCOPE_EXIT_WHEN_READY=1`` and ``ATTNSCOPE_QUIT_AFTER_MS=N`` script an
exit without a user (benchmarks, tests): see ``attnscope.gui.app.scripted_exit``.
The process exits only once every model worker thread has ended.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", nargs="?", help="checkpoint to open (default: the last one, else the demo)"
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (cuda when available, else cpu), cpu, cuda, cuda:N, mps",
    )


def run(args: argparse.Namespace) -> int:
    from attnscope.gui.app import create_window, get_app, scripted_exit
    from attnscope.gui.worker_client import wait_for_stopped_workers

    app = get_app()
    # torch's threads are set (and torch imported) by the worker, after the window shows
    window = create_window(args.checkpoint, device=args.device, reserve_cores_for_gui=1)
    hook = scripted_exit(window)  # noqa: F841 - kept alive by its parent, the window
    window.show()
    code = app.exec()
    if not wait_for_stopped_workers():
        log.warning("a model worker was still busy when the app exited")
    log.info("exiting with code %d", code)
    return code
