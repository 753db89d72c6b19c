"""``posekit tasks``: the task families, their models, data sources and config sections."""

from __future__ import annotations

import argparse
import dataclasses

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tasks",
        help="list the task families: models, data sources, config sections and defaults",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("names", nargs="*", help="only these tasks")
    p.set_defaults(func=run)


def _section(cls: type) -> str:
    fields = dataclasses.fields(cls)
    if not fields:
        return "(no options)"
    return ", ".join(f"{f.name}={_default(f)!r}" for f in fields)


def _default(f: dataclasses.Field) -> object:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return "required"


def run(args: argparse.Namespace) -> int:
    from posekit.engine.tasks import TASK_SECTIONS, get_task_spec, list_tasks

    for name in args.names or list_tasks():
        spec = get_task_spec(name)  # ValueError listing the known tasks
        print(f"{spec.name}: {spec.description}")
        print(f"  models:    {', '.join(spec.models) or '-'}")
        own = spec if spec.source_task is None else get_task_spec(spec.source_task)
        sources = ", ".join(sorted(own.sources)) or "-"
        if spec.source_task is not None:
            sources += f" (the {spec.source_task} sources)"
        print(f"  sources:   {sources}")
        for section in TASK_SECTIONS:
            print(f"  {section + ':':<10} {_section(spec.section(section))}")
        print(f"  predict:   {'yes' if spec.predictor else 'no'}")
        print(f"  int8:      {'yes' if spec.quantize_output else 'no'}")
    return 0
