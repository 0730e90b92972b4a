"""Health of the parts DriftControl runs on, for the system page and /readyz."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django.utils.formats import date_format

from driftcontrol.models import AuditEvent, OutboxEvent, WorkerHeartbeat

# Beat sends a heartbeat every 30 s; three missed beats means no worker is consuming.
WORKER_STALE_AFTER = timedelta(seconds=90)


@dataclass
class Component:
    name: str
    ok: bool
    detail: str
    items: list[str] = field(default_factory=list)


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def database() -> Component:
    vendor = connection.vendor
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return Component("Database", False, f"{vendor}: unreachable ({error})")
    if unapplied:
        return Component(
            "Database", False, f"{vendor}: {len(unapplied)} migrations not applied; run migrate"
        )
    return Component("Database", True, f"{vendor}: reachable, schema up to date")


def broker() -> Component:
    from driftcontrol.celery import app

    url = settings.CELERY_BROKER_URL
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # kombu raises transport-specific errors
        return Component("Broker", False, f"{_redacted(url)}: unreachable ({error})")
    return Component("Broker", True, f"{_redacted(url)}: reachable")


WATCHER_PREFIX = "watcher@"


def workers() -> Component:
    now = timezone.now()
    beats = list(
        WorkerHeartbeat.objects.exclude(hostname__startswith=WATCHER_PREFIX).order_by("-last_seen")[
            :20
        ]
    )
    alive = [b for b in beats if now - b.last_seen <= WORKER_STALE_AFTER]
    items = [
        f"{b.hostname}: last seen {int((now - b.last_seen).total_seconds())} s ago" for b in beats
    ]
    if not alive:
        return Component(
            "Workers",
            False,
            "no worker has answered a heartbeat in the last 90 s "
            "(is `celery worker` and `celery beat` running?)",
            items,
        )
    return Component("Workers", True, f"{len(alive)} worker(s) consuming tasks", items)


def watcher() -> Component:
    now = timezone.now()
    beats = list(
        WorkerHeartbeat.objects.filter(hostname__startswith=WATCHER_PREFIX).order_by("-last_seen")[
            :5
        ]
    )
    alive = [b for b in beats if now - b.last_seen <= WORKER_STALE_AFTER]
    items = [
        f"{b.hostname}: {', '.join(b.queues) or 'no pairs'}; last seen "
        f"{int((now - b.last_seen).total_seconds())} s ago"
        for b in beats
    ]
    if not alive:
        return Component(
            "Watcher",
            False,
            "no watcher is running: live changes are seen only "
            "by scheduled scans (start `manage.py drift watch`)",
            items,
        )
    return Component("Watcher", True, f"{len(alive)} watcher(s) following live changes", items)


def audit_log() -> Component:
    latest = AuditEvent.objects.order_by("-sequence").only("sequence", "created_at").first()
    if latest is None:
        return Component("Audit log", True, "no events yet")
    return Component(
        "Audit log",
        True,
        # In the reader's zone and the pages' one format (it names the zone).
        f"{latest.sequence} events, last at "
        f"{date_format(timezone.localtime(latest.created_at), 'DATETIME_FORMAT')}; "
        "verify with `manage.py drift audit verify`",
    )


def outbox() -> Component:
    pending = OutboxEvent.objects.pending().count()
    return Component("Event outbox", True, f"{pending} event(s) waiting for delivery")


def collect() -> list[Component]:
    db = database()
    if not db.ok:
        return [db, broker()]
    return [db, broker(), workers(), watcher(), audit_log(), outbox()]
