"""``posekit data synth|preview|verify``: write synthetic datasets, look at them, check them."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser"]


def _shard_range(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (shard indices), got {text!r}") from None
    return a, b


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data", help="synthetic datasets: generate (synth), look (preview), check (verify)"
    )
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    s = dsub.add_parser(
        "synth",
        help="generate a synthetic dataset into shards (resumable, deterministic)",
        description=(
            "Generate NUM samples into OUT as shard-*.zip plus manifest.json. The same seed "
            "gives the same bytes whatever --workers; a killed run is finished by running the "
            "same command again (a shard that fails its checksum is regenerated)."
        ),
    )
    s.add_argument("--task", choices=("body", "hand"), required=True)
    s.add_argument("--num", type=int, required=True, help="number of samples")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True, help="output directory")
    s.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    s.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None)
    s.add_argument("--shard-size", type=int, default=256, help="samples per shard")
    s.add_argument(
        "--shards",
        type=_shard_range,
        default=None,
        metavar="A:B",
        help=(
            "make only the missing shards A..B-1 (split a dataset across machines); damaged "
            "shards found are replaced whatever the range"
        ),
    )
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=run_synth)

    v = dsub.add_parser("preview", help="a contact sheet of samples with keypoints drawn")
    v.add_argument("root", type=Path, help="a dataset directory written by `data synth`")
    v.add_argument("--out", type=Path, required=True, help="PNG file to write")
    v.add_argument("--num", type=int, default=16, help="samples on the sheet (default 16)")
    v.add_argument("--columns", type=int, default=None)
    v.set_defaults(func=run_preview)

    c = dsub.add_parser(
        "verify",
        help="check every shard of a dataset against its manifest (sha256)",
        description=(
            "Check that ROOT is complete and every shard matches manifest.json: sha256 and "
            "the CRC-32 of every entry (reads all the data), or with --quick only presence, "
            "size and zip directory. Exit status 2 and one line naming the file if not."
        ),
    )
    c.add_argument("root", type=Path, help="a dataset directory written by `data synth`")
    c.add_argument("--quick", action="store_true", help="sizes and zip directories only")
    c.set_defaults(func=run_verify)


def run_synth(args: argparse.Namespace) -> int:
    from posekit.data.synthetic.writer import DEFAULT_SIZES, synthesize

    size = tuple(args.size) if args.size else DEFAULT_SIZES[args.task]
    m = synthesize(
        args.out,
        task=args.task,
        num=args.num,
        seed=args.seed,
        size=size,
        shard_size=args.shard_size,
        workers=args.workers,
        shards=args.shards,
        progress=not args.quiet,
        say=print,
    )
    written = sum(s.count for s in m.shards)
    state = "complete" if m.complete else f"{len(m.shards)} of {m.num_shards} shards present"
    print(f"{args.out}: {written} {args.task} samples in {len(m.shards)} shards ({state})")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from posekit._io import atomic_write
    from posekit.data.datasets import SyntheticDataset
    from posekit.viz import contact_sheet, draw_sample

    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--out: expected a .png file name, got {args.out}")
    ds = SyntheticDataset(args.root, allow_incomplete=True)
    if len(ds) == 0:
        raise ValueError(f"{args.root}: the dataset holds no samples yet")
    n = min(args.num, len(ds))
    idx = np.linspace(0, len(ds) - 1, n).round().astype(int)
    sheet = contact_sheet([draw_sample(ds.sample(int(i))) for i in idx], columns=args.columns)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, png.tobytes())
    print(f"{args.out}: {n} samples of {args.root} ({sheet.shape[1]}x{sheet.shape[0]} px)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from posekit.data.datasets import SyntheticDataset

    mode = "quick" if args.quick else "full"
    ds = SyntheticDataset(args.root, verify=mode)
    checked = "sizes and zip directories" if args.quick else "sha256 and CRC-32"
    n = len(ds.manifest.shards)
    print(f"{args.root}: {len(ds)} samples in {n} shards, complete ({checked} verified)")
    return 0
