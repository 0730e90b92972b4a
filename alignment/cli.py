"""`manage.py drift check`: the alignment rules on a directory of manifests, for CI."""

from __future__ import annotations

import json
from argparse import ArgumentParser, Namespace
from pathlib import Path

from alignment.checking import UnknownLane, check_directory
from driftcontrol.cli.base import Command, Console

# Exit codes a pipeline can act on.
CLEAN, ERROR, VIOLATIONS = 0, 1, 2


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--filename", required=True, type=Path, metavar="DIR")
    parser.add_argument(
        "--lane",
        help="the lane of manifests no lane's namespaces claim (Lane documents in DIR, or "
        "the database's)",
    )
    parser.add_argument("--output", choices=["table", "json"], default="table")
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {VIOLATIONS} when a rule is violated (always {ERROR} on an error)",
    )


def check(options: Namespace, console: Console) -> int:
    try:
        checked = check_directory(options.filename, options.lane)
    except (OSError, UnknownLane) as error:
        console.warn(str(error))
        return ERROR
    if options.output == "json":
        console.print(json.dumps(checked.as_dict(), indent=2))
    else:
        for problem in checked.problems:
            console.warn(problem)
        for violation in checked.violations:
            found = checked.describe(violation)
            console.print(
                f"{found['source']}: {found['severity']} {found['rule']}: {found['message']} "
                f"(field {found['field'] or '-'})"
            )
        verdict = f"{len(checked.violations)} violation(s)" if checked.violations else "clean"
        console.print(f"{checked.files} file(s), {len(checked.objects)} object(s): {verdict}")
    if checked.problems:
        return ERROR
    return VIOLATIONS if checked.violations and options.exit_code else CLEAN


COMMANDS = [
    Command(
        "check",
        "Check manifests against the alignment rules before they merge (offline)",
        check,
        _arguments,
    )
]
