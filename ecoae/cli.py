"""The ``ecoae`` command line: one sub-command per workflow step, plus tools for people.

Each sub-command lives in a module of :mod:`ecoae.commands` that registers itself;
heavy libraries (torch, librosa, maad) are imported inside the commands, so
``ecoae --help`` and the light steps start fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from ecoae import __version__
from ecoae.commands import COMMAND_MODULES


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="ecoae",
        description="Feature stores from passive acoustic monitoring archives.",
    )
    parser.add_argument("--version", action="version", version=f"ecoae {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
