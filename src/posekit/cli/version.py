"""``posekit version``: versions of posekit and of the libraries it runs on."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

__all__ = ["add_parser"]

_LIBRARIES = ("torch", "numpy", "roma", "opencv-python-headless", "anny", "lightning", "moderngl")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("version", help="print the versions of posekit and its libraries")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from posekit import __version__

    print(f"posekit {__version__} (python {platform.python_version()})")
    for lib in _LIBRARIES:
        try:
            v = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            v = "not installed"
        print(f"  {lib:<24} {v}")
    return 0
