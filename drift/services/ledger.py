"""The findings ledger: what a scan or a watch event saw, turned into finding rows.

Findings are upserted by fingerprint (cluster, group/kind, namespace, name, type). A finding
that comes back after being resolved opens a new row (one row per drift episode, so MTTD
and MTTR stay exact) whose `occurrences` counts the episodes, `recurrence_of` names the
previous episode, and whose ticket link is carried over from it. A finding is resolved only
where the caller had complete evidence about its object (`known`): a kind that could not
be read, or a manifest that did not parse, never resolves anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from drift.engine import excerpts
from drift.engine.normalize import ObjectKey
from drift.engine.severity import rank
from drift.models import Cluster, DriftPolicy, Finding, FindingStatus, Scan, SnapshotReason
from drift.models.findings import fingerprint
from drift.services import snapshots
from drift.signals import findings_opened
from driftcontrol import audit
from driftcontrol.outbox import publish

UPDATED_FIELDS = [
    "severity",
    "severity_rank",
    "diff",
    "attribution",
    "last_seen",
    "last_scan",
    "policy",
    "api_version",
    "source",
    "drift_started_at",
    "updated_at",
]
# What a sync client sees change (besides status, resolution and triage): a re-sighting
# that changes none of these moves last_seen without moving updated_at.
SYNCED_FIELDS = (
    "severity",
    "diff",
    "attribution",
    "api_version",
    "source",
    "policy_id",
    "drift_started_at",
)


@dataclass
class Observation:
    """One drifted object as seen now."""

    key: ObjectKey
    api_version: str
    type: str
    severity: str
    diff: dict[str, Any] = field(default_factory=dict)
    attribution: list[dict[str, str]] = field(default_factory=list)
    drift_started_at: str | None = None
    source: str = ""
    # The live object, when there is one: snapshotted as the finding opens (never stored
    # as such; Secret values are hashed in the snapshot).
    live: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def fingerprint(self, cluster: Cluster) -> str:
        return fingerprint(
            cluster.pk, self.key.group, self.key.kind, self.key.namespace, self.key.name, self.type
        )


@dataclass
class Outcome:
    opened: list[Finding] = field(default_factory=list)
    updated: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    severity_changed: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return len(self.opened) + len(self.updated)


Known = Callable[[ObjectKey], bool]


def key_of(finding: Finding) -> ObjectKey:
    return ObjectKey(finding.api_group, finding.kind, finding.namespace, finding.name)


def record(
    policy: DriftPolicy,
    cluster: Cluster,
    observations: Iterable[Observation],
    known: Known,
    scan: Scan | None = None,
    actor: str = "system:scanner",
    resolve_scope: Iterable[ObjectKey] | None = None,
    reason: str = "no longer seen",
) -> Outcome:
    """Upsert what was observed; resolve this policy's open findings that `known` vouches for.

    ``resolve_scope`` narrows resolution to some objects (a watch event names one);
    ``reason`` says why they resolved (a remediation credits itself).
    Retries once when a concurrent writer opened the same finding first.
    """
    observed = list(observations)
    for attempt in (1, 2, 3):
        try:
            with transaction.atomic():
                return _record(policy, cluster, observed, known, scan, actor, resolve_scope, reason)
        except IntegrityError:
            if attempt == 3:
                raise
    raise AssertionError("unreachable")


def _record(
    policy: DriftPolicy,
    cluster: Cluster,
    observed: list[Observation],
    known: Known,
    scan: Scan | None,
    actor: str,
    resolve_scope: Iterable[ObjectKey] | None,
    reason: str,
) -> Outcome:
    now = timezone.now()
    outcome = Outcome()
    by_fingerprint = {o.fingerprint(cluster): o for o in observed}
    locked = Finding.objects.select_related("cluster", "policy").select_for_update(of=("self",))
    existing = {
        f.fingerprint: f
        for f in locked.open().filter(cluster=cluster, fingerprint__in=list(by_fingerprint))
    }
    earlier = _earlier_episodes([fp for fp in by_fingerprint if fp not in existing])
    fresh: list[Finding] = []
    for fp, observation in by_fingerprint.items():
        finding = existing.get(fp)
        if finding is None:
            count, previous = earlier.get(fp, (0, None))
            fresh.append(_new(observation, policy, cluster, scan, fp, now, count + 1, previous))
            continue
        if finding.severity != observation.severity:
            outcome.severity_changed.append((finding, finding.severity))
        _update(finding, observation, policy, scan, now)
        outcome.updated.append(finding)
    outcome.opened = Finding.objects.bulk_create(fresh)
    for finding in outcome.opened:
        observation = by_fingerprint[finding.fingerprint]
        if observation.live is not None:
            snapshots.take(cluster, observation.live, SnapshotReason.FINDING_OPENED, finding)
    Finding.objects.bulk_update(outcome.updated, UPDATED_FIELDS)

    candidates = (
        locked.open()
        .filter(cluster=cluster, policy=policy)
        .exclude(fingerprint__in=list(by_fingerprint))
    )
    scoped = set(resolve_scope) if resolve_scope is not None else None
    if scoped is not None:
        # Narrow the query; the exact test (group and namespace too) is below.
        candidates = candidates.filter(
            kind__in={k.kind for k in scoped}, name__in={k.name for k in scoped}
        )
    for finding in candidates:
        key = key_of(finding)
        if (scoped is None or key in scoped) and known(key):
            finding.status, finding.resolved_at = FindingStatus.RESOLVED, now
            finding.status_reason, finding.updated_at = reason, now
            outcome.resolved.append(finding)
    resolution = ["status", "resolved_at", "status_reason", "updated_at"]
    Finding.objects.bulk_update(outcome.resolved, resolution)
    _announce(outcome, policy, cluster, scan, actor)
    return outcome


def _earlier_episodes(fingerprints: list[str]) -> dict[str, tuple[int, Finding]]:
    """Per fingerprint about to open: how many episodes it had, and the latest of them.

    Two queries for the whole batch, both on the (fingerprint, -last_seen) index, and only
    for findings that open: the steady state (every drift still open) skips them.
    """
    if not fingerprints:
        return {}
    # Episodes of one fingerprint never overlap, so the highest id is the latest one.
    counted = (
        Finding.objects.filter(fingerprint__in=fingerprints)
        .values_list("fingerprint")
        .annotate(n=Count("id"), latest=Max("id"))
    )
    counts = {fp: (n, latest) for fp, n, latest in counted}
    if not counts:
        return {}
    latest = Finding.objects.only("pk", "fingerprint", "ticket_id", "ticket_url").in_bulk(
        [latest for _, latest in counts.values()]
    )
    return {fp: (n, latest[pk]) for fp, (n, pk) in counts.items() if pk in latest}


def _new(
    observation: Observation,
    policy: DriftPolicy,
    cluster: Cluster,
    scan: Scan | None,
    fp: str,
    now: datetime,
    occurrences: int,
    previous: Finding | None = None,
) -> Finding:
    key = observation.key
    finding = Finding(
        cluster=cluster,
        api_group=key.group,
        kind=key.kind,
        namespace=key.namespace,
        name=key.name,
        type=observation.type,
        fingerprint=fp,
        first_seen=now,
        updated_at=now,
        occurrences=occurrences,
    )
    if previous is not None:
        # The drift came back: link the earlier episode and keep its ticket, so the
        # ticketing system reopens that ticket rather than filing a new one.
        finding.recurrence_of = previous
        finding.ticket_id, finding.ticket_url = previous.ticket_id, previous.ticket_url
    _apply(finding, observation, policy, scan, now)
    return finding


def _update(
    finding: Finding,
    observation: Observation,
    policy: DriftPolicy,
    scan: Scan | None,
    now: datetime,
) -> None:
    """An open finding seen again: updated_at moves only when what it says changed."""
    before = [getattr(finding, name) for name in SYNCED_FIELDS]
    _apply(finding, observation, policy, scan, now)
    if [getattr(finding, name) for name in SYNCED_FIELDS] != before:
        finding.updated_at = now


def _apply(
    finding: Finding,
    observation: Observation,
    policy: DriftPolicy,
    scan: Scan | None,
    now: datetime,
) -> None:
    finding.severity = observation.severity
    finding.severity_rank = rank(observation.severity)
    # Past the limit, a cut view with the full size and digest (drift.engine.excerpts).
    finding.diff = excerpts.bounded(observation.diff, settings.FINDING_MAX_DIFF_BYTES)
    finding.attribution = observation.attribution
    finding.api_version = observation.api_version
    finding.source = observation.source[:500]
    finding.last_seen = now
    finding.last_scan = scan
    finding.policy = policy
    started = parse_datetime(observation.drift_started_at) if observation.drift_started_at else None
    # The change happened before we saw it; a clock skew that says otherwise is ignored.
    finding.drift_started_at = started if started and started <= now else None


def _announce(
    outcome: Outcome, policy: DriftPolicy, cluster: Cluster, scan: Scan | None, actor: str
) -> None:
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
