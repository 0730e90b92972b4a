"""The Alignment page: every rule, passing or failing, by cluster and lane, and how many
violations of each were open on each of the last 30 days."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from alignment import status, trends
from dashboard import charts
from dashboard.views.base import dashboard
from drift.models import Cluster, Lane


@dashboard
def alignment_rules(request: HttpRequest) -> HttpResponse:
    cluster = request.GET.get("cluster") or None
    lane = request.GET.get("lane") or None
    states = status.rule_states(timezone.now(), cluster=cluster, lane=lane)
    context = {
        "states": states,
        "failing": sum(1 for s in states if not s.passing),
        "cluster": cluster,
        "lane": lane,
        "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
        "lanes": list(Lane.objects.order_by("name").values_list("name", flat=True)),
        "recent_days": status.RECENT.days,
        "trend_days": trends.DAYS,
        "trend_chart": _trend_chart(states),
    }
    return render(request, "alignment/rules.html", context)


def _trend_chart(states: list[status.RuleState]) -> charts.Figure | None:
    """The rules with a violation open on any day of the period, most open now first (as
    many as the palette tells apart); none: no chart."""
    shown = [s for s in states if s.trend.any_open][: len(charts.PALETTE)]
    if not shown:
        return None
    series = {s.rule.id: s.trend.open for s in shown}
    title = f"Open violations by rule, last {trends.DAYS} days"
    return charts.open_by_rule(shown[0].trend.days, series, title)
