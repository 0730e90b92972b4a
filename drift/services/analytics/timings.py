"""MTTD and MTTR over a period, and the last 30 days' figures kept between page views."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import F, QuerySet
from django.utils import timezone

from drift.models import Finding, RollupScope, StoredSummary
from drift.services.analytics.scopes import scope_filter

RECENT_DAYS = 30
# Beat recomputes every 15 minutes; a page computes only when beat has not run for a while.
SUMMARY_MAX_AGE = timedelta(minutes=30)


@dataclass
class Timing:
    median: float | None  # seconds
    p90: float | None
    count: int


def mttd(
    since: datetime, until: datetime, scope: str = RollupScope.FLEET, scope_id: int | None = None
) -> Timing:
    """Time from the change to its detection, for findings detected in [since, until)."""
    found = Finding.objects.filter(
        scope_filter(scope, scope_id),
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
        scope_filter(scope, scope_id), resolved_at__gte=since, resolved_at__lt=until
    )
    return _durations(found, "resolved_at", "first_seen")


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


def _percentiles(values: list[float]) -> Timing:
    if not values:
        return Timing(None, None, 0)
    values.sort()
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return Timing(statistics.median(values), p90, len(values))


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
