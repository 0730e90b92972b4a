from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from driftcontrol.cli.base import Command as Subcommand
from driftcontrol.cli.base import Console, Group
from driftcontrol.crypto import UnreadableSecret
from driftcontrol.exceptions import DomainError
from driftcontrol.extensions import app_modules


def registered() -> list[Subcommand | Group]:
    """Every app's `cli.COMMANDS`, in INSTALLED_APPS order."""
    return [entry for module in app_modules("cli") for entry in getattr(module, "COMMANDS", [])]


def _add(subparsers: Any, entries: list[Subcommand | Group], path: str) -> None:
    for entry in entries:
        parser = subparsers.add_parser(entry.name, help=entry.help, description=entry.help)
        if isinstance(entry, Group):
            nested = parser.add_subparsers(
                dest=f"{path}_{entry.name}", required=True, metavar="COMMAND"
            )
            _add(nested, entry.commands, f"{path}_{entry.name}")
        else:
            entry.arguments(parser)
            parser.set_defaults(handler=entry.handler)


class Command(BaseCommand):
    help = "DriftControl's command line: run `manage.py drift --help` for the verbs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        subparsers = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
        _add(subparsers, registered(), "verb")

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(self.stdout, self.stderr, self.style)
        namespace = type("Options", (), options)()
        try:
            code = options["handler"](namespace, console)
        except (DomainError, UnreadableSecret) as error:
            raise CommandError(str(error)) from error
        if code:
            raise SystemExit(code)
