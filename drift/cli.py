"""`manage.py drift apply|export|scan|findings|watch`: a stable contract for scripts and CI."""

from __future__ import annotations

import json
import sys
import time
from argparse import ArgumentParser, Namespace
from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import CommandError

from drift import declarative
from drift.declarative import export, reports
from drift.models import Cluster, DriftPolicy, Finding, Scan, ScanStatus, ScanTrigger
from drift.services import clusters, scanning
from driftcontrol.cli.base import Command, Console, Group, cli_actor

EXIT_CLEAN, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


def _read_documents(target: str) -> list[tuple[Any, Path | None]]:
    """Documents, each with its file's directory, from a file, every *.yaml/*.yml/*.json
    below a directory, or stdin (-)."""
    if target == "-":
        return [(doc, None) for doc in _parse(sys.stdin.read(), "<stdin>")]
    path = Path(target)
    files = (
        sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
        if path.is_dir()
        else [path]
    )
    found: list[tuple[Any, Path | None]] = []
    for file in files:
        try:
            text = file.read_text()
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error.strerror}") from None
        found += [(doc, file.parent) for doc in _parse(text, str(file))]
    return found


def _parse(text: str, name: str) -> list[Any]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise CommandError(f"{name} is not valid YAML: {error}") from None


def apply(options: Namespace, console: Console) -> int:
    found = [pair for target in options.filename for pair in _read_documents(target)]
    if not found:
        raise CommandError("no documents found in " + ", ".join(options.filename))
    try:
        results = declarative.apply(
            [doc for doc, _ in found], cli_actor(), [base for _, base in found]
        )
    except declarative.InvalidDocuments as invalid:
        raise CommandError(
            f"{len(invalid.problems)} problem(s), nothing applied:\n"
            + "\n".join(f"  {p}" for p in invalid.problems)
        ) from None
    for result in results:
        console.print(f"{result.kind.lower()}/{result.name} {result.action}")
    return EXIT_CLEAN


def export_command(options: Namespace, console: Console) -> int:
    console.print(yaml.safe_dump_all(export.everything(), sort_keys=False).rstrip())
    return EXIT_CLEAN


def _scan_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("policy")
    parser.add_argument("--cluster", help="only this cluster (default: every targeted one)")
    parser.add_argument("--output", choices=["yaml", "json", "table"], default="yaml")
    parser.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 0 when there is no drift, 2 when there is, 1 on error",
    )


def scan(options: Namespace, console: Console) -> int:
    policy = DriftPolicy.objects.select_related("source").filter(name=options.policy).first()
    if policy is None:
        raise CommandError(f"no policy named {options.policy!r}")
    targets = list(clusters.targets(policy))
    if options.cluster:
        targets = [c for c in targets if c.name == options.cluster]
        if not targets:
            raise CommandError(
                f"policy {policy.name} does not target an enabled cluster named {options.cluster!r}"
            )
    if not targets:
        raise CommandError(f"policy {policy.name} targets no enabled cluster")
    documents = [reports.drift_report(_run_now(policy, cluster, console)) for cluster in targets]
    _print_reports(documents, options.output, console)
    if not options.exit_code:
        return EXIT_CLEAN
    phases = {d["status"]["phase"] for d in documents}
    if "Failed" in phases:
        return EXIT_ERROR
    if any(d["status"]["summary"]["total"] for d in documents):
        return EXIT_DRIFT
    return EXIT_ERROR if "Partial" in phases else EXIT_CLEAN


def _run_now(policy: DriftPolicy, cluster: Cluster, console: Console) -> Scan:
    """Run the scan in this process; if a worker already runs one for the pair, wait for it."""
    queued, _ = scanning.request(
        policy, cluster, ScanTrigger.MANUAL, actor=cli_actor(), enqueue=False
    )
    if scanning.run(queued.pk) is None:
        console.warn(
            f"scan {queued.pk} of {policy.name} on {cluster.name} is running "
            "elsewhere; waiting for it"
        )
    last = -1
    while True:
        queued.refresh_from_db()
        if queued.status in (ScanStatus.SUCCEEDED, ScanStatus.FAILED):
            return queued
        if queued.progress_percent != last:
            last = queued.progress_percent
            console.warn(f"{cluster.name}: {last}%")
        time.sleep(0.5)


def _print_reports(documents: list[dict[str, Any]], output: str, console: Console) -> None:
    if output == "json":
        console.print(
            json.dumps(documents if len(documents) > 1 else documents[0], indent=2, default=str)
        )
    elif output == "yaml":
        console.print(yaml.safe_dump_all(documents, sort_keys=False).rstrip())
    else:
        for document in documents:
            status = document["status"]
            console.print(
                f"{document['spec']['policy']} on {document['spec']['cluster']}: "
                f"{status['phase']} at {document['spec']['revision'][:12] or '-'}"
                + (f" ({status['reason']})" if status["reason"] else "")
            )
            _table(status["findings"], console)


def _table(findings: list[dict[str, Any]], console: Console) -> None:
    console.print(f"{'ID':>6}  {'SEVERITY':<9} {'TYPE':<10} {'KIND':<22} {'OBJECT':<40} PATHS")
    for f in findings:
        where = f"{f['namespace']}/{f['name']}" if f["namespace"] else f["name"]
        paths = ", ".join(f["paths"][:3]) + (" ..." if len(f["paths"]) > 3 else "")
        console.print(
            f"{f['id']:>6}  {f['severity']:<9} {f['type']:<10} {f['kind']:<22} {where:<40} {paths}"
        )


def _findings_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--open", action="store_true", help="only findings not resolved")
    parser.add_argument("--policy")
    parser.add_argument("--cluster")
    parser.add_argument("--output", choices=["json", "table"], default="table")


def findings(options: Namespace, console: Console) -> int:
    rows = Finding.objects.select_related("cluster", "policy").order_by("-last_seen")
    if options.open:
        rows = rows.open()
    if options.policy:
        rows = rows.filter(policy__name=options.policy)
    if options.cluster:
        rows = rows.filter(cluster__name=options.cluster)
    documents = [
        {
            **reports.finding_document(f),
            "cluster": f.cluster.name,
            "policy": f.policy.name if f.policy else None,
        }
        for f in rows[:5000]
    ]
    if options.output == "json":
        console.print(json.dumps(documents, indent=2, default=str))
    else:
        _table(documents, console)
    return EXIT_CLEAN


def watch(options: Namespace, console: Console) -> int:
    """Run the watcher until SIGINT or SIGTERM."""
    import signal

    from drift.services.watching import Settings, Watcher

    watcher = Watcher(
        Settings(reconcile_seconds=options.reconcile, git_poll_seconds=options.git_poll)
    )

    def stop(signum: int, frame: object) -> None:
        console.warn("stopping the watches")
        watcher.stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console.warn("watching every enabled policy and cluster (Ctrl-C stops)")
    watcher.run()
    return EXIT_CLEAN


def _watch_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--reconcile",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often policy and cluster changes are picked up",
    )
    parser.add_argument(
        "--git-poll",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how often Git sources are read again",
    )


def _backfill_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--days", type=int, help="only the last N days (default: since the first finding)"
    )


def rollups_backfill(options: Namespace, console: Console) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from drift.services import analytics

    today = timezone.localdate()
    since = (
        today - timedelta(days=options.days - 1) if options.days else analytics.first_finding_day()
    )
    if since is None:
        console.print("no findings yet: nothing to roll up")
        return EXIT_CLEAN

    def progress(done: int, total: int, day: object) -> None:
        console.warn(f"{done}/{total} days ({day})")

    written = analytics.backfill(since, today, progress)
    console.success(f"{written} rollup rows written for {since} to {today}")
    return EXIT_CLEAN


COMMANDS = [
    Command(
        "apply",
        "create or update Lane, Cluster, GitSource and DriftPolicy documents",
        apply,
        lambda p: p.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            help="a file, a directory, or - for stdin",
        ),
    ),
    Command("export", "print the configuration as documents (without credentials)", export_command),
    Command(
        "scan", "scan a policy now, wait, print a DriftReport per cluster", scan, _scan_arguments
    ),
    Command("findings", "list findings", findings, _findings_arguments),
    Group(
        "rollups",
        "the daily rollups that trends and scores read",
        [
            Command(
                "backfill",
                "compute the daily rollups from the findings already stored",
                rollups_backfill,
                _backfill_arguments,
            ),
        ],
    ),
    Command(
        "watch",
        "keep watches open and update findings seconds after a change",
        watch,
        _watch_arguments,
    ),
]
