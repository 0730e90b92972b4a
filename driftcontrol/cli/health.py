from __future__ import annotations

from argparse import ArgumentParser, Namespace

from django.core.management.base import CommandError

from driftcontrol.cli.base import Command, Console
from driftcontrol.services import system_status

CHECKS = {
    "database": system_status.database,
    "broker": system_status.broker,
    "workers": system_status.workers,
    "watcher": system_status.watcher,
}


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "components",
        nargs="*",
        metavar="COMPONENT",
        help=f"one of {', '.join(CHECKS)} (default: all); exit 1 if any is down",
    )


def health(options: Namespace, console: Console) -> int:
    names = options.components or ["database", "broker", "workers"]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise CommandError(
            f"unknown component {', '.join(unknown)}; choose from {', '.join(CHECKS)}"
        )
    down = 0
    for name in names:
        component = CHECKS[name]()
        down += not component.ok
        console.print(f"{name}: {'up' if component.ok else 'DOWN'}: {component.detail}")
    return 1 if down else 0


COMMAND = Command(
    "health", "check the database, broker and workers (for healthchecks)", health, _arguments
)
