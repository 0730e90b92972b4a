"""Compliance score, MTTD and MTTR, and the daily rollups that charts read.

**The score** of a scope (a cluster, a lane, a policy, the fleet) is

    score = 100 x (1 - sum of the weights of its open findings / (10 x objects in scope))

floored at 0, with weights critical 10, high 5, medium 2, low 1, info 0. A critical
finding on one object out of ten costs 10 points; a low one, 1. Objects in scope are what
the latest complete scans of the scope's (policy, cluster) pairs compared. Open and
acknowledged findings count; suppressed ones (accepted until their expiry) do not.

**MTTD** is detection time minus the time the change was made (`drift_started_at`, from
managedFields, when known); **MTTR** is resolution time minus detection time. Both are
given as median and 90th percentile over a period.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
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
    Scan,
    ScanStatus,
    StoredSummary,
)

WEIGHTS = {"critical": 10, "high": 5, "medium": 2, "low": 1, "info": 0}
MAX_WEIGHT = 10


@dataclass
class Score:
    value: float
    objects: int
    penalty: int
    by_severity: dict[str, int] = field(default_factory=dict)
    costs: list[dict[str, Any]] = field(default_factory=list)  # the breakdown, worst first

    def points(self, severity: str) -> float:
        """What one finding of ``severity`` costs in this scope."""
        return 100.0 * WEIGHTS[severity] / (MAX_WEIGHT * max(1, self.objects))


def _scope_filter(scope: str, scope_id: int | None) -> Q:
    if scope == RollupScope.CLUSTER:
        return Q(cluster_id=scope_id)
    if scope == RollupScope.LANE:
        return Q(cluster__lanes__id=scope_id)
    if scope == RollupScope.POLICY:
        return Q(policy_id=scope_id)
    return Q()


def objects_in_scope(scope: str = RollupScope.FLEET, scope_id: int | None = None) -> int:
    """Objects compared by the latest successful scan of every (policy, cluster) pair."""
    latest = Scan.objects.filter(
        policy=OuterRef("policy"), cluster=OuterRef("cluster"), status=ScanStatus.SUCCEEDED
    ).order_by("-created_at")
    scans = Scan.objects.filter(pk=Subquery(latest.values("pk")[:1]))
    if scope != RollupScope.FLEET and scope_id is None:
        raise ValueError(f"a {scope} scope needs its id")
    if scope == RollupScope.CLUSTER:
        scans = scans.filter(cluster_id=int(scope_id or 0))
    elif scope == RollupScope.LANE:
        scans = scans.filter(cluster__lanes__id=int(scope_id or 0))
    elif scope == RollupScope.POLICY:
        scans = scans.filter(policy_id=int(scope_id or 0))
    return int(scans.aggregate(n=Sum("objects_desired"))["n"] or 0)


def score(
    scope: str = RollupScope.FLEET,
    scope_id: int | None = None,
    breakdown: int = 20,
    counts: dict[str, int] | None = None,
) -> Score:
    """The scope's score now, with the findings that cost the most points.

    ``counts`` (open and acknowledged findings by severity) saves the query when the caller
    has already counted the working set.
    """
    findings = (
        Finding.objects.open()
        .filter(_scope_filter(scope, scope_id))
        .exclude(status=FindingStatus.SUPPRESSED)
    )
    if counts is None:
        # Counted over the whole working set (the partial index on open findings answers
        # it alone), leaving suppressed ones out afterwards.
        counts = defaultdict(int)
        for severity, status, n in (
            Finding.objects.open()
            .filter(_scope_filter(scope, scope_id))
            .values_list("severity", "status")
            .annotate(n=Count("*"))
        ):
            if status != FindingStatus.SUPPRESSED:
                counts[severity] += n
    objects = objects_in_scope(scope, scope_id)
    penalty = sum(WEIGHTS[s] * n for s, n in counts.items())
    result = Score(
        _value(penalty, objects),
        objects,
        penalty,
        {level: counts.get(level, 0) for level in reversed(LEVELS)},
    )
    for finding in findings.select_related("cluster").order_by("-severity_rank", "-last_seen")[
        :breakdown
    ]:
        result.costs.append(
            {
                "id": finding.pk,
                "severity": finding.severity,
                "kind": finding.kind,
                "namespace": finding.namespace,
                "name": finding.name,
                "cluster": finding.cluster.name,
                "points": round(result.points(finding.severity), 2),
            }
        )
    return result


def _value(penalty: int, objects: int) -> float:
    if objects <= 0:
        return 100.0 if penalty == 0 else 0.0
    return round(max(0.0, 100.0 * (1 - penalty / (MAX_WEIGHT * objects))), 1)


@dataclass
class Timing:
    median: float | None  # seconds
    p90: float | None
    count: int


def _percentiles(values: list[float]) -> Timing:
    if not values:
        return Timing(None, None, 0)
    values.sort()
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return Timing(statistics.median(values), p90, len(values))


def _durations(queryset: QuerySet[Finding], end: str, start: str) -> Timing:
    """Median and p90 of `end - start`, in the database when it is PostgreSQL."""
    if connection.vendor == "postgresql":
        sql, params = queryset.annotate(d=F(end) - F(start)).values("d").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d)), "
                "percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM d)), count(*) "
                f"FROM ({sql}) AS durations",
                params,
            )
            median, p90, count = cursor.fetchone()
        return Timing(median, p90, count)
    pairs = queryset.values_list(end, start)
    return _percentiles([(a - b).total_seconds() for a, b in pairs])


def mttd(
    since: datetime, until: datetime, scope: str = RollupScope.FLEET, scope_id: int | None = None
) -> Timing:
    """Time from the change to its detection, for findings detected in [since, until)."""
    found = Finding.objects.filter(
        _scope_filter(scope, scope_id),
        first_seen__gte=since,
        first_seen__lt=until,
        drift_started_at__isnull=False,
    )
    return _durations(found, "first_seen", "drift_started_at")


def mttr(
    since: datetime, until: datetime, scope: str = RollupScope.FLEET, scope_id: int | None = None
) -> Timing:
    """Time from detection to resolution, for findings resolved in [since, until)."""
    found = Finding.objects.filter(
        _scope_filter(scope, scope_id), resolved_at__gte=since, resolved_at__lt=until
    )
    return _durations(found, "resolved_at", "first_seen")


# --- daily rollups ------------------------------------------------------------------------


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
    return start, start + timedelta(days=1)


def rollup(day: date) -> int:
    """Compute (or recompute) every scope's row for ``day``; the number of rows written.

    A few grouped queries per day, whatever the number of clusters: per (cluster, policy)
    for what opened, was resolved and stayed open at the end of the day; lanes and the
    fleet are sums of clusters.
    """
    start, end = _bounds(day)
    open_at_end = (
        Finding.objects.filter(first_seen__lt=end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=end))
        .exclude(status=FindingStatus.SUPPRESSED, suppressed_until__gte=end)
    )
    grouped: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
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
    lanes = defaultdict(list)
    for cluster_id, lane_id in Cluster.lanes.through.objects.values_list("cluster_id", "lane_id"):
        lanes[lane_id].append(cluster_id)
    clusters = dict(Cluster.objects.values_list("pk", "name"))
    for lane_id, members in lanes.items():
        for member in members:
            for key, value in grouped.get((RollupScope.CLUSTER, member), {}).items():
                grouped[RollupScope.LANE, lane_id][key] += value
    for cluster_id in clusters:
        for key, value in grouped.get((RollupScope.CLUSTER, cluster_id), {}).items():
            grouped[RollupScope.FLEET, 0][key] += value
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
            grouped.get((scope, scope_id), {}),
            start,
            end,
        )
        for scope, scope_id in scopes
    ]
    with transaction.atomic():
        DailyRollup.objects.filter(day=day, generated=False).delete()
        DailyRollup.objects.bulk_create(
            written,
            update_conflicts=True,
            unique_fields=["scope", "scope_id", "day"],
            update_fields=_ROW_FIELDS,
        )
    return len(written)


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
    penalty = sum(WEIGHTS[s] * counts.get(s, 0) for s in LEVELS)
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
        score=_value(penalty, objects),
        mttd_median=detect.median,
        mttd_p90=detect.p90,
        mttr_median=repair.median,
        mttr_p90=repair.p90,
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


def most_recurrent(limit: int = 10) -> QuerySet[Finding]:
    """Open findings whose drift came back most often (occurrences counts episodes)."""
    return (
        Finding.objects.open()
        .filter(occurrences__gt=1)
        .select_related("cluster")
        .order_by("-occurrences", "-last_seen")[:limit]
    )


def last_scan_of(clusters: QuerySet[Cluster]) -> dict[int, datetime | None]:
    return dict(clusters.annotate(at=Max("scans__finished_at")).values_list("pk", "at"))


# --- figures kept between page views ------------------------------------------------------

RECENT_DAYS = 30
# Beat recomputes every 15 minutes; a page computes only when beat has not run for a while.
SUMMARY_MAX_AGE = timedelta(minutes=30)


def recent_timings(max_age: timedelta = SUMMARY_MAX_AGE) -> dict[str, Any]:
    """MTTD and MTTR of the last 30 days, with when they were computed.

    Exact percentiles over a month of findings cost most of a second at a million rows, so
    they are stored (by the rollup task) rather than computed on every page view.
    """
    stored = StoredSummary.objects.filter(name="timings-30d").first()
    if stored is not None and timezone.now() - stored.computed_at <= max_age:
        return {**stored.value, "at": stored.computed_at}
    return refresh_recent_timings()


def refresh_recent_timings() -> dict[str, Any]:
    now = timezone.now()
    since = now - timedelta(days=RECENT_DAYS)
    value = {
        name: {"median": t.median, "p90": t.p90, "count": t.count}
        for name, t in (("mttd", mttd(since, now)), ("mttr", mttr(since, now)))
    }
    StoredSummary.objects.update_or_create(
        name="timings-30d", defaults={"value": value, "computed_at": now}
    )
    return {**value, "at": now}
