"""``posekit skeletons [NAME]``: list the keypoint layouts or show one."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("skeletons", help="list keypoint layouts, or show one layout's joints")
    p.add_argument("name", nargs="?", help="a layout name, e.g. coco17")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from posekit.skeletons import get_skeleton, list_skeletons

    if args.name is None:
        print(f"{'layout':<10} {'joints':>6}  description")
        for name in list_skeletons():
            sk = get_skeleton(name)
            print(f"{name:<10} {sk.num_joints:>6}  {sk.description.split('.')[0]}")
        return 0
    sk = get_skeleton(args.name)
    print(f"{sk.name}: {sk.num_joints} joints\n{sk.description}\n")
    flip = sk.flip_permutation
    print(f"{'#':>3} {'joint':<18} {'parent':<18} flips with")
    for j, name in enumerate(sk.joints):
        parent = sk.joints[sk.parents[j]] if sk.parents[j] >= 0 else "-"
        mirror = sk.joints[flip[j]] if flip[j] != j else "-"
        print(f"{j:>3} {name:<18} {parent:<18} {mirror}")
    return 0
