"""What the recorder writes, in one transaction per batch: the warn, deny and break-glass
decisions (a review the API server sent twice is kept once), the per-minute tallies of
every decision, the server's heartbeat, and for each new decision its consequences (a
denied event; a break-glass finding, audit event and event).

A batch holds no request body: `Batch.add` keeps what a row needs and sums the rest, so
a batch kept while the database is down stays small.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from alignment import rules, scanning
from alignment.admission import break_glass, events, latency
from alignment.admission.decide import Decision, World, resource_of, target
from alignment.admission.judging import NEVER_JUDGED
from alignment.admission.review import Request
from alignment.models import AdmissionDecision, AdmissionServer, AdmissionTally, ManagedObject
from drift.engine.normalize import ObjectKey
from drift.models import Cluster
from driftcontrol.outbox import publish

RECORDED = frozenset({"warn", "deny", "break-glass"})
# Namespaces with images to verify, held at most: the next decisions ask again.
UNVERIFIED_LIMIT = 10_000
_NOWHERE = World()  # target() of a request, without the cluster's kinds

TallyKey = tuple[datetime, str, str, str]  # minute, cluster, namespace, outcome


@dataclass
class Tally:
    count: int = 0
    dry_runs: int = 0
    latency_sum_ms: float = 0.0
    buckets: list[int] = field(default_factory=latency.empty)

    def add(self, other: Tally) -> None:
        self.count += other.count
        self.dry_runs += other.dry_runs
        self.latency_sum_ms += other.latency_sum_ms
        for index, n in enumerate(other.buckets):
            self.buckets[index] += n


@dataclass
class Kept:
    """One decision to keep, without the objects the request carried."""

    cluster: str
    owner: str  # the namespace whose lane it is ("" for none)
    row: AdmissionDecision  # unsaved, no cluster or lane yet
    api_version: str
    resource: str  # plural, as the request names it (a subresource's parent)


@dataclass
class Batch:
    """Decisions submitted since the last write (or since the database last answered)."""

    tallies: dict[TallyKey, Tally] = field(default_factory=dict)
    kept: list[Kept] = field(default_factory=list)
    # (cluster, namespace) -> images the lane there wants evidence of and nobody has.
    unverified: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.tallies or self.kept or self.unverified)

    def add(
        self,
        cluster: str,
        request: Request,
        decision: Decision,
        latency_ms: float,
        at: datetime,
        room: bool = True,
    ) -> bool:
        """Count the decision, and keep it if it is one to keep (never a dry run); False
        when it was one to keep but there is no ``room`` (too many held already)."""
        key = target(request, _NOWHERE)
        owner = key.name if (key.group, key.kind) == ("", "Namespace") else key.namespace
        minute = at.replace(second=0, microsecond=0)
        tally = self.tallies.setdefault((minute, cluster, owner, decision.outcome), Tally())
        tally.count += 1
        tally.dry_runs += request.dry_run
        tally.latency_sum_ms += latency_ms
        tally.buckets[latency.bucket(latency_ms)] += 1
        if request.dry_run:
            return True  # decided alike, and nothing else: no row, event or verification
        if decision.unverified and len(self.unverified) < UNVERIFIED_LIMIT:
            self.unverified.setdefault((cluster, owner), set()).update(decision.unverified)
        if decision.outcome not in RECORDED:
            return True
        if room:
            self.kept.append(_kept(cluster, owner, key, request, decision, latency_ms, at))
        return room


def without_objects(request: Request) -> Request:
    """The request as a batch reads it: named as it names its object (a CREATE may name it
    in the object only), without the objects it carried, which nothing recorded reads."""
    if request.object is None and request.old_object is None:
        return request
    name = target(request, _NOWHERE).name
    return replace(request, name=name, object=None, old_object=None)


def _kept(
    cluster: str,
    owner: str,
    key: ObjectKey,
    request: Request,
    decision: Decision,
    latency_ms: float,
    at: datetime,
) -> Kept:
    kind = request.kind
    resource = request.resource
    row = AdmissionDecision(
        at=at,
        outcome=decision.outcome,
        rules=list(decision.rules),
        message=decision.message,
        user=request.user[:253],
        groups=list(request.groups),
        operation=request.operation,
        api_group=key.group,
        kind=key.kind[:100],
        namespace=key.namespace,
        name=key.name[:253],
        subresource=request.subresource[:64],
        dry_run=False,
        uid=request.uid[:64],
        unverified=list(decision.unverified),
        latency_ms=latency_ms,
    )
    version = kind.version if not request.subresource else resource.version
    group = key.group
    return Kept(cluster, owner, row, f"{group}/{version}" if group else version, resource.resource)


@dataclass
class Written:
    """What a write did that the recorder acts on once it committed."""

    # (cluster id, lane) -> images to verify
    unverified: dict[tuple[int, str], set[str]] = field(default_factory=dict)


def write(batch: Batch, server_id: int | None) -> Written:
    """The batch, in one transaction; DatabaseError leaves nothing written."""
    now = timezone.now()
    with transaction.atomic():
        named = {key[1] for key in batch.tallies} | {item.cluster for item in batch.kept}
        clusters = _clusters(named)
        lanes = {name: _lane_finder(cluster) for name, cluster in clusters.items()}
        fresh = _decisions(batch.kept, clusters, lanes)
        for kept in fresh:
            if kept.row.outcome == "deny":
                publish(events.DENIED, events.payload(kept.row))
            elif kept.row.outcome == "break-glass":
                break_glass.record(kept.row, kept.api_version)
        _tallies(batch.tallies, clusters, lanes)
        if server_id is not None:
            AdmissionServer.objects.filter(pk=server_id).update(seen_at=now)
    written = Written()
    for (name, owner), images in batch.unverified.items():
        lane = lanes[name](owner) if name in lanes else ""
        if lane:
            written.unverified.setdefault((clusters[name].pk, lane), set()).update(images)
    return written


def _clusters(names: Iterable[str]) -> dict[str, Cluster]:
    """The clusters named, with their lanes; a name no cluster has any more is left out
    (the server allows what it has no world for, and nothing can be kept of it)."""
    found = Cluster.objects.filter(name__in=set(names)).prefetch_related("lanes")
    return {cluster.name: cluster for cluster in found}


def _lane_finder(cluster: Cluster) -> _Lanes:
    return _Lanes(scanning.lane_specs(cluster.lanes.all()))


@dataclass
class _Lanes:
    """The lane owning a namespace, as decide finds it (two owners: none)."""

    specs: tuple[rules.LaneSpec, ...]
    found: dict[str, str] = field(default_factory=dict)

    def __call__(self, namespace: str) -> str:
        if namespace not in self.found:
            judged = namespace and namespace not in NEVER_JUDGED
            owners = [lane for lane in self.specs if judged and lane.owns(namespace)]
            self.found[namespace] = owners[0].name if len(owners) == 1 else ""
        return self.found[namespace]


def _decisions(
    kept: list[Kept], clusters: dict[str, Cluster], lanes: dict[str, _Lanes]
) -> list[Kept]:
    """Insert the decisions not kept already; those inserted."""
    fresh: dict[tuple[int, str], Kept] = {}
    for item in kept:
        cluster = clusters.get(item.cluster)
        if cluster is None:
            continue
        item.row.cluster = cluster
        item.row.lane = lanes[item.cluster](item.owner)
        if item.row.subresource:
            _parent_kind(item)
        fresh.setdefault((cluster.pk, item.row.uid), item)
    if not fresh:
        return []
    earlier = AdmissionDecision.objects.filter(
        cluster_id__in={pk for pk, _ in fresh}, uid__in={uid for _, uid in fresh}
    ).values_list("cluster_id", "uid")
    for found in earlier:
        fresh.pop(found, None)
    # A review retried to another server at the same moment: its row is kept once.
    AdmissionDecision.objects.bulk_create([k.row for k in fresh.values()], ignore_conflicts=True)
    return list(fresh.values())


def _parent_kind(item: Kept) -> None:
    """A subresource's request names its object by resource (a scale request sends an
    autoscaling/v1 Scale): the kind is the one Git manages under that resource, as the
    decision found it (only an object Git manages is held back through a subresource)."""
    row = item.row
    candidates = ManagedObject.objects.filter(
        cluster=row.cluster, api_group=row.api_group, namespace=row.namespace, name=row.name
    ).values_list("kind", flat=True)
    kind = next((k for k in candidates if resource_of(k) == item.resource), None)
    if kind is not None:
        row.kind = kind


def _tallies(
    counted: dict[TallyKey, Tally], clusters: dict[str, Cluster], lanes: dict[str, _Lanes]
) -> None:
    """Add the counts to their rows. Two servers may add to one row at once: the rows
    are created first if missing, then locked in one order, so neither loses the
    other's counts and neither waits for the other in a circle."""
    summed: dict[tuple[datetime, int, str, str], Tally] = {}
    for (minute, name, owner, outcome), tally in counted.items():
        cluster = clusters.get(name)
        if cluster is not None:
            key = (minute, cluster.pk, lanes[name](owner), outcome)
            summed.setdefault(key, Tally()).add(tally)
    if not summed:
        return
    order = sorted(summed)
    AdmissionTally.objects.bulk_create(
        [
            AdmissionTally(
                minute=m, cluster_id=c, lane=lane, outcome=o, latency_buckets=latency.empty()
            )
            for m, c, lane, o in order
        ],
        ignore_conflicts=True,
    )
    rows = AdmissionTally.objects.select_for_update().filter(
        minute__in={m for m, *_ in order}, cluster_id__in={c for _, c, *_ in order}
    )
    changed = []
    for row in rows.order_by("minute", "cluster_id", "lane", "outcome"):
        more = summed.get((row.minute.astimezone(UTC), row.cluster_id, row.lane, row.outcome))
        if more is None:
            continue  # another lane's or outcome's, locked along
        row.count += more.count
        row.dry_runs += more.dry_runs
        row.latency_sum_ms += more.latency_sum_ms
        row.latency_buckets = _added(row.latency_buckets, more.buckets)
        changed.append(row)
    AdmissionTally.objects.bulk_update(
        changed, ["count", "dry_runs", "latency_sum_ms", "latency_buckets"]
    )


def _added(held: list[int] | None, more: list[int]) -> list[int]:
    summed = list(held or [])
    summed += [0] * (len(more) - len(summed))
    for index, n in enumerate(more):
        summed[index] += n
    return summed
