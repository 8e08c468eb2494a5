"""How many CPU threads a command-line decode gives torch.

torch splits each matrix product of a step over its intra-op threads and waits
for the slowest. When another process holds one of those cores, the thread on it
is descheduled and every product waits for it: on the 2-core bench machine, busy
with other jobs, val.de took 180 s with 2 threads and 46 s with 1 (issue 22).
So a decode uses the cores that are idle when it starts: the usable cores less
the 1-minute load average (rounded), at least one. A quiet machine gets every
core; a busy one gets the ones left.

``--threads N`` or ``ATTNSCOPE_THREADS=N`` overrides the rule (the option wins).
The app's worker keeps its own rule (engine/devices.configure_threads: every
core but one, for the GUI).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

THREADS_ENV = "ATTNSCOPE_THREADS"
MAX_THREADS = 256


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def idle_cores(cores: int, load: float | None) -> int:
    """Cores not taken by other work: ``cores`` less the rounded ``load``, at least 1
    (all of them when the load is unknown)."""
    if load is None:
        return cores
    return max(1, min(cores, cores - round(load)))


def decode_threads(requested: int | None = None) -> int:
    """The thread count for a decode: ``requested`` (``--threads``), else
    ``$ATTNSCOPE_THREADS``, else the idle cores. A bad value raises ValueError naming it."""
    if requested is not None:
        return _checked(requested, "--threads")
    value = os.environ.get(THREADS_ENV, "").strip()
    if value:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be a whole number, got {value!r}") from None
        return _checked(number, THREADS_ENV)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return idle_cores(usable_cores(), load)


def _checked(number: int, name: str) -> int:
    if not 1 <= number <= MAX_THREADS:
        raise ValueError(f"{name} must be between 1 and {MAX_THREADS}, got {number}")
    return number


def set_decode_threads(requested: int | None = None) -> int:
    """``torch.set_num_threads(decode_threads(requested))``; returns the count."""
    import torch

    threads = decode_threads(requested)
    torch.set_num_threads(threads)
    logger.info("torch uses %d CPU thread(s)", threads)
    return threads


def add_threads_argument(parser) -> None:
    """The ``--threads N`` option of the decoding commands (an argparse parser)."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help=f"CPU threads for torch (default: ${THREADS_ENV}, else the cores idle at the "
        "start: all usable cores less the 1-minute load average, at least 1)",
    )
