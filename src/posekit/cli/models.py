"""``posekit models``: the model registry with parameter counts and FLOPs per sample."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "human"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the registered models with parameters and FLOPs (tiny and full presets)",
        description=(
            "List the registered models. FLOPs are per sample for one forward pass in eval "
            "mode (a multiply-add counts 2), counted by torch's FlopCounterMode."
        ),
    )
    p.add_argument("names", nargs="*", help="only these models (default: all)")
    p.add_argument("--task", default=None, help="only the models of this task (posekit tasks)")
    p.add_argument(
        "--preset",
        action="append",
        default=None,
        help="presets to show (repeatable; default: tiny and full)",
    )
    p.set_defaults(func=run)


def human(x: float, unit: str = "") -> str:
    """``1234567`` → ``1.23M`` (k, M, G, T)."""
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.3g}{suffix}{unit}"
    return f"{x:.3g}{unit}"


def run(args: argparse.Namespace) -> int:
    from posekit.models import (
        count_flops,
        count_parameters,
        create_model,
        get_model_spec,
        list_models,
    )

    names = args.names or list_models()
    if args.task is not None:
        from posekit.engine.tasks import get_task_spec

        of_task = get_task_spec(args.task).models  # ValueError listing the known tasks
        names = [n for n in names if n in of_task]
    presets = args.preset or ["tiny", "full"]
    rows = []
    for name in names:
        spec = get_model_spec(name)  # KeyError listing the known models
        for preset in presets:
            if preset not in spec.presets:
                continue
            model = create_model(name, preset)
            rows.append(
                (
                    name,
                    preset,
                    human(count_parameters(model)),
                    human(count_flops(model)),
                    spec.description,
                )
            )
    header = ("model", "preset", "params", "FLOPs/sample", "description")
    widths = [max(len(r[i]) for r in (*rows, header)) for i in range(4)]
    print(
        "  ".join(
            h.ljust(w) if i in (0, 1) else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths))
        )
        + "  "
        + header[4]
    )
    for r in rows:
        cells = [
            r[0].ljust(widths[0]),
            r[1].ljust(widths[1]),
            r[2].rjust(widths[2]),
            r[3].rjust(widths[3]),
        ]
        print("  ".join(cells) + "  " + r[4])
    return 0
