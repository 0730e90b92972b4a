"""The Alignment page: every rule, passing or failing, by cluster and lane."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from alignment import status
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
    }
    return render(request, "alignment/rules.html", context)
