"""The overview at "/": the fleet's score and its trend, open drift, detection and repair
times, running scans, pending approvals and the objects that keep drifting back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import charts
from dashboard.views import present, tallies
from dashboard.views.base import dashboard
from drift.models import Cluster, Lane, RollupScope, Scan
from drift.services import analytics, health
from remediation.models import RemediationRequest, RequestStatus

TREND_DAYS = 30
# Bars beyond this many clusters or lanes make a chart nobody reads; the rest are counted.
GROUPS_SHOWN = 15


def pending_requests() -> QuerySet[RemediationRequest]:
    """Requests waiting for approval, soonest to expire first."""
    return (
        RemediationRequest.objects.filter(status=RequestStatus.PENDING)
        .select_related("cluster", "policy", "requested_by")
        .with_approvals_given()
        .order_by("expires_at")
    )


def _timing(timing: dict[str, Any]) -> dict[str, Any]:
    return {
        "median": present.duration(timing["median"]),
        "p90": present.duration(timing["p90"]),
        "count": timing["count"],
    }


def timings(now: datetime) -> dict[str, Any]:
    """MTTD and MTTR of the last 30 days, as beat last computed them (see analytics)."""
    recent = analytics.recent_timings()
    return {"mttd": _timing(recent["mttd"]), "mttr": _timing(recent["mttr"]), "at": recent["at"]}


def _groups_chart(groups: dict[str, tallies.Counts], title: str, axis: str) -> Any:
    if not groups:
        return None
    shown, left_out = tallies.biggest(groups, GROUPS_SHOWN)
    if left_out:
        title = f"{title}: the {GROUPS_SHOWN} with the most ({left_out} more)"
    return charts.stacked_by_severity(shown, title, axis)


@dashboard
def overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    drift = tallies.OpenDrift.now()  # one grouped count serves the score and every chart
    fleet = analytics.score(breakdown=8, counts=drift.counted)
    trend = list(
        analytics.series(
            RollupScope.FLEET, None, timezone.localdate() - timedelta(days=TREND_DAYS - 1)
        )
    )
    by_severity = drift.fleet()
    clusters = dict(Cluster.objects.values_list("pk", "name"))
    lanes = dict(Lane.objects.values_list("pk", "name"))
    pending = list(pending_requests()[:8])
    running = list(
        Scan.objects.running().select_related("policy", "cluster").order_by("created_at")[:10]
    )
    healths = [h for h in health.fleet(now).values() if h.pairs or h.state == "unreachable"]
    context = {
        "attention": [h for h in healths if h.needs_attention],
        "score_as_of": health.oldest_known(healths),
        "score_stale": any(h.stale for h in healths),
        "score": fleet,
        "score_worst": fleet.costs,
        "open_total": tallies.total(by_severity),
        "open_severities": present.severity_list(by_severity),
        "timings": timings(now),
        "running": running,
        "pending": [(r, present.until(r.expires_at, now)) for r in pending],
        "pending_total": RemediationRequest.objects.filter(status=RequestStatus.PENDING).count(),
        "recurrent": list(analytics.most_recurrent(8)),
        "trend_generated": any(row.generated for row in trend),
        "charts": {
            "trend": charts.score_trend(trend, f"Fleet score, last {TREND_DAYS} days")
            if trend
            else None,
            "severity": charts.severity_bars(by_severity),
            "clusters": _groups_chart(
                drift.named(clusters, drift.by_cluster), "Open drift by cluster", "cluster"
            ),
            "lanes": _groups_chart(
                drift.named(lanes, drift.by_lane()), "Open drift by lane", "lane"
            ),
        },
    }
    return render(request, "drift/overview.html", context)
