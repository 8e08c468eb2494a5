"""`python -m benchmarks [--quick] [--json OUT] ...`: `attnscope bench` without the entry point."""

import argparse
import logging

from benchmarks import command

parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
command.add_arguments(parser)
args = parser.parse_args()
logging.basicConfig(
    level=logging.DEBUG if args.verbose else logging.INFO,
    format="%(levelname)s %(name)s: %(message)s",
)
raise SystemExit(command.run(args))
