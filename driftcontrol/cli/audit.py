from __future__ import annotations

from argparse import Namespace

from django.core.management.base import CommandError

from driftcontrol import audit
from driftcontrol.cli.base import Command, Console, Group


def verify(options: Namespace, console: Console) -> int:
    report = audit.verify()
    if not report.ok:
        raise CommandError(str(report))
    console.success(str(report))
    return 0


GROUP = Group(
    "audit",
    "the hash-chained audit log",
    [
        Command(
            "verify", "check every link of the audit chain; name the first broken event", verify
        ),
    ],
)
