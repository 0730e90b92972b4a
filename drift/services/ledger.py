"""The findings ledger: what a scan or a watch event saw, turned into finding rows.

Findings are upserted by fingerprint (cluster, group/kind, namespace, name, type). A finding
that comes back after being resolved opens a new row (one row per drift episode, so MTTD
and MTTR stay exact) whose `occurrences` counts the episodes, `recurrence_of` names the
previous episode, and whose ticket link is carried over from it. A finding is resolved only
where the caller had complete evidence about its object (`known`): a kind that could not
be read, or a manifest that did not parse, never resolves anything; nor does any pass
resolve a finding about a change rather than a state (ADMITTED): a person does.

A finding seen again is written only when what it says changed. That it was seen is
written once per complete pass, on its scope's `ScopeSighting` (policy and cluster): an
open finding's `last_seen` is the later of its own sighting and its scope's, as long as
it follows its scope. A complete pass that could not tell about a finding (its kind
unreadable) stores the sighting it really had on the row, which then stops following
until it is seen again; resolution stores it the same way.
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
from drift.models import (
    Cluster,
    DriftPolicy,
    Finding,
    FindingStatus,
    FindingType,
    Scan,
    ScopeSighting,
    SnapshotReason,
)
from drift.models.findings import fingerprint
from drift.services import snapshots
from drift.services.ledger_events import announce

# What a finding seen again writes, when it writes at all: what it says changed, or its
# scope had stopped vouching for it. A sighting alone writes nothing (ScopeSighting).
UPDATED_FIELDS = [
    "severity",
    "severity_rank",
    "diff",
    "attribution",
    "sighted_at",
    "sighted_by",
    "follows_scope",
    "policy",
    "api_version",
    "source",
    "drift_started_at",
    "updated_at",
]
UNVOUCHED_FIELDS = ["sighted_at", "sighted_by", "follows_scope"]
# The `state` of an alignment finding about a change rather than about what an object
# holds (a break-glass change the admission webhook let through): no pass reads anything
# that shows it gone, so none resolves it; a person does (drift.services.triage.resolve).
ADMITTED = "admitted"
RESOLVED_FIELDS = ["status", "resolved_at", "status_reason", "updated_at", *UNVOUCHED_FIELDS]
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
    rule: str = ""  # the alignment rule broken (type alignment)
    # Git's version breaks the rule, not (yet) the live one: a finding of its own.
    in_git: bool = False

    def fingerprint(self, cluster: Cluster) -> str:
        key = self.key
        rule = f"{self.rule}@git" if self.in_git else self.rule
        return fingerprint(
            cluster.pk, key.group, key.kind, key.namespace, key.name, self.type, rule
        )


@dataclass
class Outcome:
    opened: list[Finding] = field(default_factory=list)
    # Open findings seen again; `changed` are those of them whose row was written.
    seen_again: list[Finding] = field(default_factory=list)
    changed: list[Finding] = field(default_factory=list)
    resolved: list[Finding] = field(default_factory=list)
    # Open findings a complete pass could not vouch for (their kind unreadable).
    unvouched: list[Finding] = field(default_factory=list)
    severity_changed: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return len(self.opened) + len(self.seen_again)


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
    judged_rules: Iterable[str] | None = None,
) -> Outcome:
    """Upsert what was observed; resolve this policy's open findings that `known` vouches for.

    ``resolve_scope`` narrows resolution to some objects (a watch event names one);
    ``reason`` says why they resolved (a remediation credits itself); ``judged_rules``
    says the observations are those alignment rules' verdict on the scoped objects'
    live state, and nothing else (the watcher's): only their findings may resolve.
    Retries once when a concurrent writer opened the same finding first.
    """
    observed = list(observations)
    judged = frozenset(judged_rules) if judged_rules is not None else None
    for attempt in (1, 2, 3):
        try:
            with transaction.atomic():
                return _record(
                    policy, cluster, observed, known, scan, actor, resolve_scope, reason, judged
                )
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
    judged: frozenset[str] | None = None,
) -> Outcome:
    now = timezone.now()
    outcome = Outcome()
    by_fingerprint = {o.fingerprint(cluster): o for o in observed}
    existing = _seen_again(by_fingerprint, policy, cluster, scan, now, outcome)
    earlier = _earlier_episodes([fp for fp in by_fingerprint if fp not in existing])
    fresh = []
    for fp, observation in by_fingerprint.items():
        if fp not in existing:
            count, previous = earlier.get(fp, (0, None))
            fresh.append(_new(observation, policy, cluster, scan, fp, now, count + 1, previous))
    outcome.opened = Finding.objects.bulk_create(fresh)
    for finding in outcome.opened:
        finding.last_seen, finding.last_scan_id = now, finding.sighted_by_id
        observation = by_fingerprint[finding.fingerprint]
        if observation.live is not None:
            snapshots.take(cluster, observation.live, SnapshotReason.FINDING_OPENED, finding)
    Finding.objects.bulk_update(outcome.changed, UPDATED_FIELDS)
    _settle_unseen(policy, cluster, list(by_fingerprint), known, resolve_scope, outcome, judged)
    for finding in outcome.resolved:
        finding.resolved_at, finding.status_reason, finding.updated_at = now, reason, now
    Finding.objects.bulk_update(outcome.resolved, RESOLVED_FIELDS)
    Finding.objects.bulk_update(outcome.unvouched, UNVOUCHED_FIELDS)
    if resolve_scope is None:
        # A complete pass: every open finding of the scope it did not resolve or unvouch
        # was seen now. One row says so for all of them.
        ScopeSighting.objects.bulk_create(
            [ScopeSighting(policy=policy, cluster=cluster, seen_at=now, scan=scan)],
            update_conflicts=True,
            unique_fields=["policy", "cluster"],
            update_fields=["seen_at", "scan"],
        )
    announce(outcome, policy, cluster, scan, actor)
    return outcome


def _seen_again(
    by_fingerprint: dict[str, Observation],
    policy: DriftPolicy,
    cluster: Cluster,
    scan: Scan | None,
    now: datetime,
    outcome: Outcome,
) -> dict[str, Finding]:
    """The open findings observed again, by fingerprint, with what changed applied.

    Read without locks: only the rows about to be written are locked, and a row that
    was resolved meanwhile (by a watch event or a remediation) is left out, so the
    drift it shows opens a new episode instead of writing into a closed one.
    """
    rows = Finding.objects.select_related("cluster", "policy").open()
    existing = {
        f.fingerprint: f for f in rows.filter(cluster=cluster, fingerprint__in=list(by_fingerprint))
    }
    changed = []
    for fp, finding in existing.items():
        before = finding.severity
        if _update(finding, by_fingerprint[fp], policy, scan, now):
            changed.append(finding)
            if finding.severity != before:
                outcome.severity_changed.append((finding, before))
    locked = _lock_open([f.pk for f in changed])
    for finding in changed:
        if finding.pk in locked:
            outcome.changed.append(finding)
        else:
            del existing[finding.fingerprint]
    outcome.severity_changed = [(f, s) for f, s in outcome.severity_changed if f.pk in locked]
    outcome.seen_again = list(existing.values())
    return existing


def _lock_open(pks: list[int]) -> set[int]:
    if not pks:
        return set()
    rows = Finding.objects.select_for_update().open().filter(pk__in=pks)
    return set(rows.values_list("pk", flat=True))


def _settle_unseen(
    policy: DriftPolicy,
    cluster: Cluster,
    observed: list[str],
    known: Known,
    resolve_scope: Iterable[ObjectKey] | None,
    outcome: Outcome,
    judged: frozenset[str] | None = None,
) -> None:
    """The policy's open findings not observed: resolved where `known` vouches for their
    object; after a complete pass, the others keep the last sighting they really had."""
    candidates = (
        Finding.objects.select_related("cluster", "policy")
        .select_for_update()
        .open()
        .filter(cluster=cluster, policy=policy)
        .exclude(fingerprint__in=observed)
    )
    scoped = set(resolve_scope) if resolve_scope is not None else None
    if scoped is not None:
        # Narrow the query; the exact test (group and namespace too) is below. Alignment
        # rules need a whole evaluation: one object's event never resolves their findings.
        candidates = candidates.filter(
            kind__in={k.kind for k in scoped}, name__in={k.name for k in scoped}
        )
        if judged is None:
            candidates = candidates.exclude(type=FindingType.ALIGNMENT)
        else:  # what Git would deploy was not judged: its findings stay
            candidates = candidates.filter(type=FindingType.ALIGNMENT, rule__in=judged).exclude(
                diff__state="desired"
            )
    for finding in candidates:
        key = key_of(finding)
        if scoped is not None and key not in scoped:
            continue
        if known(key) and finding.diff.get("state") != ADMITTED:
            finding.status = FindingStatus.RESOLVED
            _keep_last_sighting(finding)
            outcome.resolved.append(finding)
        elif scoped is None and finding.follows_scope:
            _keep_last_sighting(finding)
            finding.follows_scope = False
            outcome.unvouched.append(finding)


def _keep_last_sighting(finding: Finding) -> None:
    """Store the sighting the scope vouched for on the row itself, before the scope moves
    on without it (resolved findings and unvouched ones no longer follow their scope)."""
    finding.sighted_at = finding.last_seen
    finding.sighted_by_id = finding.last_scan_id


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
        rule=observation.rule,
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
    finding.sighted_at, finding.sighted_by = now, scan
    _apply(finding, observation, policy, now)
    return finding


def _update(
    finding: Finding,
    observation: Observation,
    policy: DriftPolicy,
    scan: Scan | None,
    now: datetime,
) -> bool:
    """An open finding seen again: whether its row must be written. It must when what it
    says changed (updated_at moves too), or when its scope had stopped vouching for it."""
    before = [getattr(finding, name) for name in SYNCED_FIELDS]
    _apply(finding, observation, policy, now)
    changed = [getattr(finding, name) for name in SYNCED_FIELDS] != before
    if changed:
        finding.updated_at = now
    if not (changed or not finding.follows_scope):
        return False
    finding.sighted_at, finding.sighted_by, finding.follows_scope = now, scan, True
    finding.last_seen, finding.last_scan_id = now, finding.sighted_by_id
    return True


def _apply(finding: Finding, observation: Observation, policy: DriftPolicy, now: datetime) -> None:
    finding.severity = observation.severity
    finding.severity_rank = rank(observation.severity)
    # Past the limit, a cut view with the full size and digest (drift.engine.excerpts).
    finding.diff = excerpts.bounded(observation.diff, settings.FINDING_MAX_DIFF_BYTES)
    finding.attribution = observation.attribution
    finding.api_version = observation.api_version
    finding.source = observation.source[:500]
    finding.policy = policy
    started = parse_datetime(observation.drift_started_at) if observation.drift_started_at else None
    # The change happened before we saw it; a clock skew that says otherwise is ignored.
    finding.drift_started_at = started if started and started <= now else None
