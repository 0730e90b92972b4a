"""`manage.py drift check`: the alignment rules on a directory of manifests, for CI;
`manage.py drift audit-feed`: the token a cluster's audit webhook presents; `manage.py drift
registry` (alignment.registry_cli); and `manage.py drift admission` (alignment.admission.cli)."""

from __future__ import annotations

import json
from argparse import ArgumentParser, Namespace
from pathlib import Path

from django.conf import settings

from alignment import audit_feed, registry_cli
from alignment.admission import cli as admission_cli
from alignment.checking import UnknownLane, check_directory
from drift.models import Cluster
from driftcontrol.cli.base import Command, Console, Group

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
        "--registries",
        action="store_true",
        help="verify the images of lanes requiring signatures or provenance in their "
        "registries (the only step that leaves the machine; credentials from the database "
        "when one answers)",
    )
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit {VIOLATIONS} when a rule is violated (always {ERROR} on an error)",
    )


def check(options: Namespace, console: Console) -> int:
    try:
        checked = check_directory(options.filename, options.lane, options.registries)
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


def _feed_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("cluster", help="the cluster whose API server sends the feed")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="accept the token in this file (the API server has one already); without it, "
        "a new token is issued and the webhook kubeconfig printed",
    )
    parser.add_argument(
        "--url", help="DriftControl's address as the API server reaches it (DRIFTCONTROL_BASE_URL)"
    )


def audit_feed_token(options: Namespace, console: Console) -> int:
    cluster = Cluster.objects.filter(name=options.cluster).first()
    if cluster is None:
        console.warn(f"no cluster named {options.cluster!r}")
        return ERROR
    try:
        if options.token_file is not None:
            audit_feed.adopt_token(cluster, options.token_file.read_text(), "system:cli")
            console.success(f"cluster {cluster.name}: its audit feed token is accepted")
            return CLEAN
        token = audit_feed.issue_token(cluster, "system:cli")
    except (OSError, audit_feed.BadBatch) as error:
        console.warn(str(error))
        return ERROR
    console.warn(
        f"cluster {cluster.name}: new audit feed token (the previous one no longer works). "
        "Save this as the API server's --audit-webhook-config-file:"
    )
    base_url = options.url or settings.BASE_URL
    if not base_url.startswith("https://"):
        console.warn(
            f"{base_url} is not https: kube-apiserver sends the token over TLS only, so this "
            "feed would arrive anonymous and be refused; give --url https://..."
        )
    console.print(audit_feed.webhook_kubeconfig(cluster, token, base_url))
    return CLEAN


COMMANDS: list[Command | Group] = [
    Command(
        "check",
        "Check manifests against the alignment rules before they merge (offline)",
        check,
        _arguments,
    ),
    Command(
        "audit-feed",
        "Issue (or accept) the token a cluster's API server audit webhook presents",
        audit_feed_token,
        _feed_arguments,
    ),
    registry_cli.GROUP,
    admission_cli.GROUP,
]
