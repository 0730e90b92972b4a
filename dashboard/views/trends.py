"""Trends over 7, 30 or 90 days: scores per cluster and lane, drift opened and resolved,
MTTD and MTTR, the severity mix. Everything comes from DailyRollup rows, never from the
findings table, and a fleet of hundreds of clusters reads only the rows it draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Max, Min
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from dashboard import charts
from dashboard.forms.drift import RangeForm
from dashboard.views.base import dashboard
from drift.models import DailyRollup, RollupScope
from drift.services import analytics

# Lines a chart can show legibly: the lowest-scoring members are drawn, the rest counted.
LINES_SHOWN = 8
CHANGES_SHOWN = 20


@dataclass
class Members:
    """The clusters (or lanes) with rollups in the range: their first and latest rows."""

    scope: str
    first: dict[int, DailyRollup] = field(default_factory=dict)
    last: dict[int, DailyRollup] = field(default_factory=dict)

    @classmethod
    def of(cls, scope: str, since: date) -> Members:
        rows = analytics.series(scope, None, since)
        bounds = rows.aggregate(first=Min("day"), last=Max("day"))
        members = cls(scope)
        if bounds["last"] is None:
            return members
        for row in rows.filter(day__in={bounds["first"], bounds["last"]}):
            if row.day == bounds["first"]:
                members.first[row.scope_id] = row
            if row.day == bounds["last"]:
                members.last[row.scope_id] = row
        return members

    def names(self) -> dict[str, int]:
        return {row.scope_name or str(row.scope_id): key for key, row in self.last.items()}

    def lowest(self, limit: int = LINES_SHOWN) -> list[int]:
        ranked = sorted(self.last.values(), key=lambda row: (row.score, row.scope_name))
        return [row.scope_id for row in ranked[:limit]]

    def series(self, ids: list[int], since: date) -> list[DailyRollup]:
        return list(analytics.series(self.scope, ids, since)) if ids else []

    def changes(self) -> tuple[list[dict[str, Any]], int]:
        """Each member's score at the start and the end of the range, biggest drop first."""
        rows = []
        for key, last in self.last.items():
            first = self.first.get(key)
            change = round(last.score - first.score, 1) if first else None
            rows.append(
                {
                    "name": last.scope_name or str(key),
                    "first": first.score if first else None,
                    "last": last.score,
                    "change": change,
                    "open": last.open_total,
                }
            )
        rows.sort(key=lambda row: (row["change"] is None, row["change"] or 0, row["name"]))
        return rows[:CHANGES_SHOWN], max(0, len(rows) - CHANGES_SHOWN)


def _title(what: str, members: Members, span: str) -> str:
    if len(members.last) > LINES_SHOWN:
        return f"Score of the {LINES_SHOWN} lowest-scoring {what}s of {len(members.last)}, {span}"
    return f"Score per {what}, {span}"


def _focus(
    form: RangeForm, fleet: list[Any], clusters: Members, lanes: Members, since: date
) -> tuple[str, list[Any], str]:
    """The scope the detail charts show: the fleet, or a cluster or lane picked by name.
    Returns (scope, its series, its label)."""
    scope = (form.cleaned_data.get("scope") if form.is_valid() else "") or "fleet"
    kind, _, name = scope.partition(":")
    members = {"cluster": clusters, "lane": lanes}.get(kind)
    chosen = members.names().get(name) if members else None
    if members is None or chosen is None:
        return "fleet", fleet, "the fleet"
    return scope, members.series([chosen], since), f"{kind} {name}"


def _charts(
    fleet: list[Any], clusters: Members, lanes: Members, since: date, focus: list[Any], label: str
) -> dict[str, Any]:
    span = f"last {(timezone.localdate() - since).days + 1} days"
    cluster_lines = clusters.series(clusters.lowest(), since)
    lane_lines = lanes.series(lanes.lowest(), since)
    charts_of_focus = {
        "flow": lambda: charts.opened_vs_resolved(
            focus, f"Drift opened and resolved per day, {label}, {span}"
        ),
        "timing": lambda: charts.detection_and_repair(
            focus, f"Time to detect and to resolve (hours), {label}, {span}"
        ),
        "mix": lambda: charts.severity_mix(focus, f"Open drift by severity, {label}, {span}"),
    }
    return {
        "clusters": charts.scores_by_scope(cluster_lines, _title("cluster", clusters, span), fleet)
        if cluster_lines or fleet
        else None,
        "lanes": charts.scores_by_scope(lane_lines, _title("lane", lanes, span))
        if lane_lines
        else None,
        **{key: make() if focus else None for key, make in charts_of_focus.items()},
    }


@dashboard
def trends(request: HttpRequest) -> HttpResponse:
    form = RangeForm(request.GET or None)
    days = form.range_days()
    since = timezone.localdate() - timedelta(days=days - 1)
    fleet = list(analytics.series(RollupScope.FLEET, None, since))
    clusters = Members.of(RollupScope.CLUSTER, since)
    lanes = Members.of(RollupScope.LANE, since)
    scope, focus, label = _focus(form, fleet, clusters, lanes, since)
    cluster_changes, clusters_left_out = clusters.changes()
    lane_changes, lanes_left_out = lanes.changes()
    context = {
        "days": days,
        "ranges": [(value, text, value == days) for value, text in RangeForm.RANGES],
        "scope": scope,
        "scopes": [("fleet", "The fleet")]
        + [(f"cluster:{n}", f"Cluster {n}") for n in sorted(clusters.names())]
        + [(f"lane:{n}", f"Lane {n}") for n in sorted(lanes.names())],
        "label": label,
        "empty": not fleet and not clusters.last and not lanes.last,
        # A range longer than the history must say so, not draw fewer days silently.
        "covered_from": fleet[0].day if fleet and fleet[0].day > since else None,
        "covered_days": (timezone.localdate() - fleet[0].day).days + 1 if fleet else 0,
        "generated": any(row.generated for row in fleet),
        "cluster_changes": cluster_changes,
        "clusters_left_out": clusters_left_out,
        "lane_changes": lane_changes,
        "lanes_left_out": lanes_left_out,
        "charts": _charts(fleet, clusters, lanes, since, focus, label),
    }
    return render(request, "drift/trends.html", context)
