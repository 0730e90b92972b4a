"""The Admission page: what the admission webhook decided over a period (by outcome, lane
and rule), how fast, its latest denies, warnings and break-glass uses, and where it is
installed and answering (alignment.admission.overview reads it all, for the API too)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alignment.admission import latency, overview
from alignment.admission.decide import OUTCOMES
from dashboard import charts
from dashboard.views.base import dashboard
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import MAX_NAME

# Decisions each list shows, newest first, whatever the period.
LATEST = 20
# Each outcome's badge colour; the badge says the outcome in words too.
BADGES = {"allow": "ok", "warn": "warn", "break-glass": "info", "deny": "down"}


class AdmissionFilters(forms.Form):
    period = forms.ChoiceField(
        required=False, choices=[(p.name, p.words) for p in overview.PERIODS.values()]
    )
    cluster = forms.CharField(required=False, max_length=MAX_NAME)
    lane = forms.CharField(required=False, max_length=MAX_NAME)
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *((o, o) for o in OUTCOMES)]
    )

    def wanted(self) -> dict[str, str]:
        """The filters that are valid; a bad one is ignored (and the page says so)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


@dashboard
def admission(request: HttpRequest) -> HttpResponse:
    filters = AdmissionFilters(request.GET)
    wanted = filters.wanted()
    scope = overview.scope_of(**wanted)
    found = overview.summary(scope)
    kept = overview.decisions(scope.cluster, scope.lane, scope.outcome)
    refused = [o for o in ("deny", "warn") if not scope.outcome or o == scope.outcome]
    context = {
        "summary": found,
        "scope": scope,
        "filters": filters,
        "wanted": wanted,
        "filtered": any(wanted[name] for name in ("cluster", "lane", "outcome")),
        "periods": [(p.name, p.words, p == scope.period) for p in overview.PERIODS.values()],
        "chart": _chart(scope),
        "outcomes": [(o, BADGES[o]) for o in OUTCOMES],
        "kept": overview.KEPT,
        "lane_rows": [(c, [c.of(o) for o in OUTCOMES]) for c in found.lanes],
        "rule_rows": [(c, [c.of(o) for o in overview.KEPT]) for c in found.rules],
        "denies": _rows(kept.filter(outcome__in=refused)[:LATEST]) if refused else [],
        "break_glass": _rows(kept.filter(outcome="break-glass")[:LATEST])
        if scope.outcome in ("", "break-glass")
        else [],
        "percentiles": _percentiles(found.latency),
        "recorded": overview.anything_recorded(),
        "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
        "lanes": list(Lane.objects.order_by("name").values_list("name", flat=True)),
    }
    return render(request, "alignment/admission.html", context)


def _chart(scope: overview.Scope) -> dict[str, Any] | None:
    series = overview.over_time(scope)
    if not series.times:
        return None
    title = f"Decisions per {series.bucket} by outcome, {scope.period.last}"
    return charts.admission_decisions(series.times, series.counts, series.bucket, title)


def _rows(decisions: Any) -> list[dict[str, Any]]:
    """What a row of a list of decisions shows: the decision, its badge, its object."""
    rows = []
    for decision in decisions:
        kind = f"{decision.api_group}/{decision.kind}" if decision.api_group else decision.kind
        where = f"{decision.namespace}/" if decision.namespace else ""
        thing = f"{kind} {where}{decision.name or '(generated name)'}"
        rows.append(
            {
                "decision": decision,
                "badge": BADGES.get(decision.outcome, "muted"),
                "object": f"{thing}/{decision.subresource}" if decision.subresource else thing,
            }
        )
    return rows


def _percentiles(found: overview.Latency) -> list[tuple[str, str]]:
    """Each percentile in words; beyond the last bucket the histogram says no more."""
    slowest = latency.BOUNDS_MS[-1]
    words = []
    for name, value in found.percentiles.items():
        if value is None:
            continue
        at_least = value >= slowest and name != "max"
        words.append((name, f"{'≥ ' if at_least else ''}{value:g} ms"))
    return words
