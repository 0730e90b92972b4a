"""A small framework for `manage.py drift <group> <command>` subcommands.

Each app may have a `cli` module with a `COMMANDS` list; the `drift` management command
collects them, so later apps add verbs (apply, scan, remediate...) without touching it.
"""

from __future__ import annotations

import getpass
from argparse import ArgumentParser, Namespace
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

Handler = Callable[[Namespace, "Console"], int | None]


@dataclass
class Command:
    name: str
    help: str
    handler: Handler
    arguments: Callable[[ArgumentParser], object] = lambda parser: None  # its return is unused


@dataclass
class Group:
    name: str
    help: str
    commands: list[Command | Group] = field(default_factory=list)


class Console:
    """Where a subcommand writes: stdout for results, stderr for progress and problems."""

    def __init__(self, out: TextIO, err: TextIO, style: Any) -> None:
        self.out, self.err, self.style = out, err, style

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def success(self, text: str) -> None:
        self.out.write(self.style.SUCCESS(text) + "\n")

    def warn(self, text: str) -> None:
        self.err.write(self.style.WARNING(text) + "\n")


def cli_actor() -> str:
    """How the audit log names someone acting from a shell on the server."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no passwd entry for the uid (containers)
        return "cli"
