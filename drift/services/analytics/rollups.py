"""Daily rollups: one row per scope and day, which the trend charts read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from drift.engine.severity import LEVELS
from drift.models import (
    Cluster,
    DailyRollup,
    DriftPolicy,
    Finding,
    FindingStatus,
    Lane,
    RollupScope,
)
from drift.services.analytics.scopes import objects_in_scope
from drift.services.analytics.scores import penalty_of, score_of
from drift.services.analytics.timings import mttd, mttr

# Counts by (scope, scope id), then by severity (open at the end of the day), "opened" or
# "resolved" (during it).
_Counts = defaultdict[tuple[str, int], defaultdict[str, int]]

_ROW_FIELDS = [
    "scope_name",
    "opened",
    "resolved",
    "open_critical",
    "open_high",
    "open_medium",
    "open_low",
    "open_info",
    "objects_in_scope",
    "score",
    "mttd_median",
    "mttd_p90",
    "mttr_median",
    "mttr_p90",
    "generated",
]


def rollup(day: date) -> int:
    """Compute (or recompute) every scope's row for ``day``; the number of rows written.

    A few grouped queries per day, whatever the number of clusters: per (cluster, policy)
    for what opened, was resolved and stayed open at the end of the day; lanes and the
    fleet are sums of clusters.
    """
    start, end = _bounds(day)
    counts = _cluster_and_policy_counts(start, end)
    clusters = dict(Cluster.objects.values_list("pk", "name"))
    _add_lanes_and_fleet(counts, clusters)
    names = {
        RollupScope.CLUSTER: clusters,
        RollupScope.LANE: dict(Lane.objects.values_list("pk", "name")),
        RollupScope.POLICY: dict(DriftPolicy.objects.values_list("pk", "name")),
        RollupScope.FLEET: {0: "fleet"},
    }
    scopes = {(RollupScope.FLEET, 0)} | {(s, i) for s, ids in names.items() for i in ids}
    written = [
        _row(
            day,
            scope,
            scope_id,
            names[scope].get(scope_id, ""),
            counts.get((scope, scope_id), {}),
            start,
            end,
        )
        for scope, scope_id in scopes
    ]
    _store(day, written)
    return len(written)


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
    return start, start + timedelta(days=1)


def _cluster_and_policy_counts(start: datetime, end: datetime) -> _Counts:
    """Per cluster and per policy: findings open at ``end`` by severity, and how many were
    opened and resolved in [start, end)."""
    open_at_end = (
        Finding.objects.filter(first_seen__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))
        .exclude(status=FindingStatus.SUPPRESSED, suppressed_until__gte=end)
    )
    grouped: _Counts = defaultdict(lambda: defaultdict(int))
    for cluster_id, policy_id, severity, n in open_at_end.values_list(
        "cluster_id", "policy_id", "severity"
    ).annotate(n=Count("*")):
        grouped[RollupScope.CLUSTER, cluster_id][severity] += n
        if policy_id:
            grouped[RollupScope.POLICY, policy_id][severity] += n
    for name, field_name in (("opened", "first_seen"), ("resolved", "resolved_at")):
        rows = (
            Finding.objects.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
            .values_list("cluster_id", "policy_id")
            .annotate(n=Count("*"))
        )
        for cluster_id, policy_id, n in rows:
            grouped[RollupScope.CLUSTER, cluster_id][name] += n
            if policy_id:
                grouped[RollupScope.POLICY, policy_id][name] += n
    return grouped


def _add_lanes_and_fleet(grouped: _Counts, clusters: dict[int, str]) -> None:
    """Add each lane's and the fleet's counts: the sums of their clusters'."""
    lanes = defaultdict(list)
    for cluster_id, lane_id in Cluster.lanes.through.objects.values_list("cluster_id", "lane_id"):
        lanes[lane_id].append(cluster_id)
    for lane_id, members in lanes.items():
        for member in members:
            for key, count in grouped.get((RollupScope.CLUSTER, member), {}).items():
                grouped[RollupScope.LANE, lane_id][key] += count
    for cluster_id in clusters:
        for key, count in grouped.get((RollupScope.CLUSTER, cluster_id), {}).items():
            grouped[RollupScope.FLEET, 0][key] += count


def _row(
    day: date,
    scope: str,
    scope_id: int,
    name: str,
    counts: dict[str, int],
    start: datetime,
    end: datetime,
) -> DailyRollup:
    objects = objects_in_scope(scope, scope_id if scope != RollupScope.FLEET else None)
    penalty = penalty_of({s: counts.get(s, 0) for s in LEVELS})
    detect = mttd(start, end, scope, scope_id)
    repair = mttr(start, end, scope, scope_id)
    return DailyRollup(
        day=day,
        scope=scope,
        scope_id=scope_id,
        scope_name=name,
        opened=counts.get("opened", 0),
        resolved=counts.get("resolved", 0),
        open_critical=counts.get("critical", 0),
        open_high=counts.get("high", 0),
        open_medium=counts.get("medium", 0),
        open_low=counts.get("low", 0),
        open_info=counts.get("info", 0),
        objects_in_scope=objects,
        score=score_of(penalty, objects),
        mttd_median=detect.median,
        mttd_p90=detect.p90,
        mttr_median=repair.median,
        mttr_p90=repair.p90,
    )


def _store(day: date, rows: list[DailyRollup]) -> None:
    """Replace the day's measured rows with ``rows``; a generated (demo) row stays unless
    a row of its scope replaces it."""
    with transaction.atomic():
        DailyRollup.objects.filter(day=day, generated=False).delete()
        DailyRollup.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["scope", "scope_id", "day"],
            update_fields=_ROW_FIELDS,
        )


def backfill(since: date, until: date | None = None, progress: Any = None) -> int:
    """Rollups for every day from ``since`` to ``until`` (today), oldest first."""
    until = until or timezone.localdate()
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    written = 0
    for index, day in enumerate(days, start=1):
        written += rollup(day)
        if progress is not None:
            progress(index, len(days), day)
    return written


def first_finding_day() -> date | None:
    first = Finding.objects.order_by("first_seen").values_list("first_seen", flat=True).first()
    return timezone.localdate(first) if first else None


def series(
    scope: str, scope_ids: Iterable[int] | None, since: date, until: date | None = None
) -> QuerySet[DailyRollup]:
    """Rollup rows for charts: one scope type, some or all of its members, a date range."""
    rows = DailyRollup.objects.filter(scope=scope, day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    if scope_ids is not None:
        rows = rows.filter(scope_id__in=list(scope_ids))
    return rows.order_by("scope_id", "day")
