"""How much to trust what the dashboard shows about each cluster: can it be reached, when
did every policy last finish a complete scan of it, and is its score therefore stale.

A score is computed from the open findings, so it cannot tell by itself that a cluster
stopped answering: a cluster whose scans all fail keeps the score of its last good scan.
This module is what lets every page say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from drift.models import Cluster, DriftPolicy, Scan, ScanStatus
from drift.services import clusters as cluster_targets

# A pair (policy on cluster) is stale once it missed two intervals: one late scan is
# normal queueing, two in a row mean scans are failing or not running.
STALE_AFTER_INTERVALS = 2


@dataclass(frozen=True)
class PairFreshness:
    """One policy on one cluster: its last complete scan and the last scan of any kind."""

    policy: str
    interval: timedelta
    last_complete_at: datetime | None
    last_scan_id: int | None
    last_scan_status: str
    last_scan_error: str

    def stale(self, now: datetime) -> bool:
        if self.last_complete_at is None:
            return True
        return now - self.last_complete_at > STALE_AFTER_INTERVALS * self.interval

    @property
    def failing(self) -> bool:
        return self.last_scan_status == ScanStatus.FAILED


@dataclass(frozen=True)
class ClusterHealth:
    """A cluster's reachability, and the freshness of what is known about it."""

    name: str
    state: str  # reachable, unreachable, disabled, not contacted yet
    detail: str
    last_contact_at: datetime | None
    pairs: list[PairFreshness] = field(default_factory=list)
    now: datetime = field(default_factory=timezone.now)

    @property
    def reachable(self) -> bool:
        return self.state == "reachable"

    @property
    def known_as_of(self) -> datetime | None:
        """The oldest of its policies' last complete scans: what its score is based on."""
        return _oldest([p.last_complete_at for p in self.pairs])

    @property
    def stale_pairs(self) -> list[PairFreshness]:
        return [p for p in self.pairs if p.stale(self.now)]

    @property
    def failing_pairs(self) -> list[PairFreshness]:
        return [p for p in self.pairs if p.failing]

    @property
    def stale(self) -> bool:
        return bool(self.stale_pairs)

    @property
    def needs_attention(self) -> bool:
        return self.state == "unreachable" or self.stale or bool(self.failing_pairs)

    @property
    def css(self) -> str:
        return {"reachable": "ok", "unreachable": "down"}.get(self.state, "muted")


def reachability(cluster: Cluster) -> tuple[str, str]:
    """(state, detail) from what the last contact with the cluster recorded."""
    if not cluster.enabled:
        return "disabled", "not scanned while disabled"
    if cluster.last_error:
        return "unreachable", cluster.last_error
    if cluster.last_contact_at:
        return "reachable", cluster.server_version
    return "not contacted yet", ""


def fleet(now: datetime | None = None) -> dict[str, ClusterHealth]:
    """Every cluster's health, by name: a query for the clusters, one for the policies and
    one per policy for its scans."""
    return _healths(list(Cluster.objects.order_by("name")), now or timezone.now())


def of(cluster: Cluster, now: datetime | None = None) -> ClusterHealth:
    """One cluster's health (its page), without looking at the rest of the fleet."""
    return _healths([cluster], now or timezone.now())[cluster.name]


def _healths(clusters: list[Cluster], now: datetime) -> dict[str, ClusterHealth]:
    pairs: dict[int, list[PairFreshness]] = {}
    for policy in DriftPolicy.objects.filter(enabled=True):
        targets = [c.pk for c in clusters if cluster_targets.is_target(policy, c)]
        for row in _pairs_of(policy, targets) if targets else []:
            pairs.setdefault(row[0], []).append(row[1])
    return {
        c.name: ClusterHealth(
            c.name,
            *reachability(c),
            c.last_contact_at,
            sorted(pairs.get(c.pk, []), key=_by_name),
            now,
        )
        for c in clusters
    }


def oldest_known(healths: list[ClusterHealth]) -> datetime | None:
    """What a figure over these clusters is based on: the oldest of their complete scans
    (None when one of them never completed one)."""
    return _oldest([h.known_as_of for h in healths])


def _oldest(times: list[datetime | None]) -> datetime | None:
    if not times or None in times:
        return None
    return min(t for t in times if t is not None)


def _by_name(pair: PairFreshness) -> str:
    return pair.policy


def _pairs_of(policy: DriftPolicy, targets: list[int]) -> list[tuple[int, PairFreshness]]:
    # Each subquery walks the (policy, cluster, -created_at) index back to the first match.
    scans = Scan.objects.filter(policy=policy, cluster=OuterRef("pk")).order_by("-created_at")
    complete = scans.filter(status=ScanStatus.SUCCEEDED, partial=False)
    rows = Cluster.objects.filter(pk__in=targets).annotate(
        last_complete_at=Subquery(complete.values("finished_at")[:1]),
        last_scan_id=Subquery(scans.values("pk")[:1]),
        last_scan_status=Subquery(scans.values("status")[:1]),
        last_scan_error=Subquery(scans.values("error")[:1]),
    )
    interval = timedelta(seconds=policy.interval_seconds)
    return [
        (
            c.pk,
            PairFreshness(
                policy.name,
                interval,
                c.last_complete_at,
                c.last_scan_id,
                c.last_scan_status or "",
                c.last_scan_error or "",
            ),
        )
        for c in rows
    ]
