"""The error type of ``posekit`` subcommands (`posekit.cli.main` prints it without a traceback)."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """An error caused by the user's input; printed without a traceback."""
