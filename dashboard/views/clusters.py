"""Clusters and lanes: reachability, last scan, open drift and score."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from alignment import lane_status
from dashboard import charts
from dashboard.views import present, tallies
from dashboard.views.base import dashboard
from dashboard.views.scans import scan_pairs
from drift.models import Cluster, Lane, RollupScope, Scan
from drift.services import analytics, health
from remediation.models import ObjectPin

TREND_DAYS = 30


@dashboard
def cluster_list(request: HttpRequest) -> HttpResponse:
    latest_scan = Scan.objects.filter(cluster=OuterRef("pk")).order_by("-created_at")
    rows = list(
        Cluster.objects.prefetch_related("lanes")
        .annotate(last_scan_id=Subquery(latest_scan.values("pk")[:1]))
        .order_by("name")
    )
    scans = Scan.objects.select_related("policy").in_bulk(
        [c.last_scan_id for c in rows if c.last_scan_id]
    )
    scores = analytics.scores(RollupScope.CLUSTER)
    healths = health.fleet()
    context = {
        "rows": [
            {
                "cluster": c,
                "reach": healths.get(c.name) or health.of(c),
                "last_scan": scans.get(c.last_scan_id),
                **tallies.of_score(scores.get(c.pk)),
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
    lanes = list(Lane.objects.prefetch_related("clusters").order_by("name"))
    scores = analytics.scores(RollupScope.LANE)
    healths = health.fleet()
    required = lane_status.requirements(lanes)
    context = {
        "rows": [
            {
                "lane": lane,
                "requires": required.get(lane.pk, []),
                "stale": any(
                    healths[c.name].stale for c in lane.clusters.all() if c.name in healths
                ),
                **tallies.of_score(scores.get(lane.pk)),
            }
            for lane in lanes
        ]
    }
    return render(request, "drift/clusters/lanes.html", context)
