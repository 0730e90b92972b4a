"""What a ledger pass tells the world: webhook events through the outbox, the
findings_opened signal, and one audit event."""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings
from django.db import transaction

from drift.engine.severity import rank
from drift.models import Cluster, DriftPolicy, Finding, Scan
from drift.signals import findings_opened
from driftcontrol import audit
from driftcontrol.outbox import publish


class Changes(Protocol):
    """What a ledger pass changed (drift.services.ledger.Outcome)."""

    opened: list[Finding]
    resolved: list[Finding]
    severity_changed: list[tuple[Finding, str]]


def announce(
    outcome: Changes, policy: DriftPolicy, cluster: Cluster, scan: Scan | None, actor: str
) -> None:
    """What the ledger did, told to webhooks (outbox), listeners and the audit trail."""
    for finding in outcome.opened:
        publish("finding.opened", event_payload(finding))
    for finding in outcome.resolved:
        publish("finding.resolved", event_payload(finding))
    for finding, before in outcome.severity_changed:
        publish(
            "finding.severity_changed",
            {
                **event_payload(finding),
                "previous_severity": before,
                "escalated": rank(finding.severity) > rank(before),
            },
        )
    if outcome.opened:
        opened = [f.pk for f in outcome.opened]
        transaction.on_commit(
            lambda: findings_opened.send(
                sender=Finding, policy_id=policy.pk, cluster_id=cluster.pk, finding_ids=opened
            )
        )
    if outcome.opened or outcome.resolved or outcome.severity_changed:
        data: dict[str, Any] = {
            "policy": policy.name,
            "cluster": cluster.name,
            "opened": [f.pk for f in outcome.opened],
            "resolved": [f.pk for f in outcome.resolved],
            "severityChanged": [f.pk for f, _ in outcome.severity_changed],
        }
        recurrences = [
            {"finding": f.pk, "recurrenceOf": f.recurrence_of_id, "ticketId": f.ticket_id}
            for f in outcome.opened
            if f.recurrence_of_id is not None
        ]
        if recurrences:
            data["recurrences"] = recurrences
        audit.record(actor, "findings.recorded", scan if scan is not None else cluster, data)


def event_payload(finding: Finding) -> dict[str, Any]:
    """A finding event's payload, in webhook payload version 2 (snake_case; the schema is
    in driftcontrol/webhooks/schemas.py, version 1 is derived from it when sent)."""
    base = settings.BASE_URL.rstrip("/")
    return {
        "finding": {
            "id": finding.pk,
            "type": finding.type,
            "rule": finding.rule,
            "severity": finding.severity,
            "status": finding.status,
            "cluster": finding.cluster.name,
            "policy": finding.policy.name if finding.policy else None,
            "api_version": finding.api_version,
            "kind": finding.kind,
            "namespace": finding.namespace,
            "name": finding.name,
            "paths": finding.diff.get("paths", []),
            "first_seen": finding.first_seen,
            "last_seen": finding.last_seen,
            "resolved_at": finding.resolved_at,
            "occurrences": finding.occurrences,
            # The earlier episode of this drift (its id), and the ticket carried over.
            "recurrence_of": finding.recurrence_of_id,
            "ticket_id": finding.ticket_id,
            "ticket_url": finding.ticket_url,
        },
        "links": {
            "ui": f"{base}/findings/{finding.pk}/",
            "api": f"{base}/api/v1/findings/{finding.pk}/",
        },
    }
