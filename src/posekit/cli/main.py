"""``posekit`` entry point: one argparse parser, one module per subcommand.

Each subcommand module exposes ``add_parser(subparsers)`` (which registers the subcommand and
sets ``func``) and is imported lazily by its handler, so ``posekit --help`` stays fast.
Errors the user can fix (bad input files, bad options) are raised as `CliError` or
`ValueError` and printed as one line on stderr with exit status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from posekit import __version__
from posekit.cli import (
    OPENMP_DEFAULTS,
    data,
    demo,
    evaluate,
    export,
    models,
    predict,
    skeletons,
    tasks,
    train,
    version,
)
from posekit.cli.errors import CliError

__all__ = ["OPENMP_DEFAULTS", "CliError", "build_parser", "main"]

_SUBCOMMANDS = (version, skeletons, data, demo, tasks, models, train, evaluate, predict, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posekit",
        description="Human pose and shape estimation, trainable offline on synthetic humans.",
    )
    parser.add_argument("--version", action="version", version=f"posekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (CliError, ValueError, FileNotFoundError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"posekit {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"posekit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
