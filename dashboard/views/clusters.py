"""Clusters and lanes: reachability, last scan, open drift and score."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from dashboard import charts
from dashboard.views import present, tallies
from dashboard.views.base import dashboard
from dashboard.views.scans import scan_pairs
from drift.models import Cluster, DailyRollup, Lane, RollupScope, Scan
from drift.services import analytics, health
from remediation.models import ObjectPin

TREND_DAYS = 30


def with_latest_score(rows: QuerySet[Any], scope: str) -> QuerySet[Any]:
    """Annotate each row with its newest daily rollup score and that rollup's day. Lists
    read the rollups (one query for all rows); a detail page computes the live score."""
    latest = DailyRollup.objects.filter(scope=scope, scope_id=OuterRef("pk")).order_by("-day")
    return rows.annotate(
        score=Subquery(latest.values("score")[:1]), score_day=Subquery(latest.values("day")[:1])
    )


@dashboard
def cluster_list(request: HttpRequest) -> HttpResponse:
    latest_scan = Scan.objects.filter(cluster=OuterRef("pk")).order_by("-created_at")
    rows = list(
        with_latest_score(Cluster.objects.prefetch_related("lanes"), RollupScope.CLUSTER)
        .annotate(last_scan_id=Subquery(latest_scan.values("pk")[:1]))
        .order_by("name")
    )
    scans = Scan.objects.select_related("policy").in_bulk(
        [c.last_scan_id for c in rows if c.last_scan_id]
    )
    drift = tallies.OpenDrift.now().by_cluster
    healths = health.fleet()
    context = {
        "rows": [
            {
                "cluster": c,
                "reach": healths.get(c.name) or health.of(c),
                "last_scan": scans.get(c.last_scan_id),
                "open": present.severity_list(drift.get(c.pk, {})),
                "open_total": tallies.total(drift.get(c.pk, {})),
            }
            for c in rows
        ]
    }
    return render(request, "drift/clusters/list.html", context)


@dashboard
def cluster_detail(request: HttpRequest, name: str) -> HttpResponse:
    cluster = get_object_or_404(Cluster.objects.prefetch_related("lanes"), name=name)
    live = analytics.score(RollupScope.CLUSTER, cluster.pk, breakdown=10)
    trend = list(
        analytics.series(
            RollupScope.CLUSTER, [cluster.pk], timezone.localdate() - timedelta(days=TREND_DAYS - 1)
        )
    )
    pairs = {key: policy for key, (policy, target) in scan_pairs().items() if target == cluster}
    context = {
        "cluster": cluster,
        "reach": health.of(cluster),
        "score": live,
        "open": present.severity_list(live.by_severity),
        "pairs": sorted(pairs.items()),
        "scans": list(cluster.scans.select_related("policy").order_by("-created_at")[:15]),
        "pins": list(ObjectPin.objects.active().filter(cluster=cluster).order_by("-created_at")),
        "trend": charts.score_trend(trend, f"Score of {cluster.name}, last {TREND_DAYS} days")
        if trend
        else None,
    }
    return render(request, "drift/clusters/detail.html", context)


@dashboard
def lane_list(request: HttpRequest) -> HttpResponse:
    lanes = list(
        with_latest_score(Lane.objects.prefetch_related("clusters"), RollupScope.LANE).order_by(
            "name"
        )
    )
    drift = tallies.OpenDrift.now().by_lane()
    context = {
        "rows": [
            {
                "lane": lane,
                "open": present.severity_list(drift.get(lane.pk, {})),
                "open_total": tallies.total(drift.get(lane.pk, {})),
            }
            for lane in lanes
        ]
    }
    return render(request, "drift/clusters/lanes.html", context)
