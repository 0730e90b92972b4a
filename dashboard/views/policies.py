"""Policies: what each compares and how it responds, its YAML, its clusters and scans,
and what enforcing a detect-only policy would have done."""

from __future__ import annotations

import yaml
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from dashboard.forms.drift import PreviewForm
from dashboard.views import present, tallies
from dashboard.views.base import dashboard
from dashboard.views.scans import scan_pairs
from drift.declarative import export
from drift.models import DriftPolicy, PolicyMode, RollupScope, Scan
from drift.services import analytics
from remediation import services as remediation

PREVIEW_SHOWN = 100


@dashboard
def policy_list(request: HttpRequest) -> HttpResponse:
    latest_scan = Scan.objects.filter(policy=OuterRef("pk")).order_by("-created_at")
    policies = list(
        DriftPolicy.objects.select_related("source")
        .annotate(last_scan_id=Subquery(latest_scan.values("pk")[:1]))
        .order_by("name")
    )
    scans = Scan.objects.select_related("cluster").in_bulk(
        [p.last_scan_id for p in policies if p.last_scan_id]
    )
    scores = analytics.scores(RollupScope.POLICY)
    context = {
        "rows": [
            {
                "policy": p,
                "last_scan": scans.get(p.last_scan_id),
                **tallies.of_score(scores.get(p.pk)),
                "interval": present.duration(p.interval_seconds),
            }
            for p in policies
        ]
    }
    return render(request, "drift/policies/list.html", context)


@dashboard
def policy_detail(request: HttpRequest, name: str) -> HttpResponse:
    policy = get_object_or_404(DriftPolicy.objects.select_related("source"), name=name)
    document = yaml.safe_dump(export.policy(policy), sort_keys=False, default_flow_style=False)
    live = analytics.score(RollupScope.POLICY, policy.pk, breakdown=0)
    pairs = sorted(scan_pairs().items())
    targets = [(key, cluster) for key, (target, cluster) in pairs if target == policy]
    context = {
        "policy": policy,
        "document": document,
        "score": live,
        "open": present.severity_list(live.by_severity),
        "targets": targets,
        "scans": list(policy.scans.select_related("cluster").order_by("-created_at")[:15]),
        "detect_only": policy.mode == PolicyMode.DETECT_ONLY,
        "preview_form": PreviewForm(),
        "expiry": present.duration(policy.request_expiry_seconds),
        "interval": present.duration(policy.interval_seconds),
    }
    return render(request, "drift/policies/detail.html", context)


@dashboard
def policy_preview(request: HttpRequest, name: str) -> HttpResponse:
    """What enforcing up to a severity would have remediated, from the ledger (a fragment
    htmx loads into the policy page; a full page without htmx)."""
    policy = get_object_or_404(DriftPolicy, name=name)
    form = PreviewForm(request.GET or None)
    preview = None
    if form.is_valid():
        preview = remediation.preview(policy, form.cleaned_data["up_to"], form.cleaned_data["days"])
        preview["shown"] = preview["findings"][:PREVIEW_SHOWN]
    context = {"policy": policy, "form": form, "preview": preview}
    fragment = request.htmx and not request.htmx.history_restore_request  # see finding_list
    template = "drift/policies/_preview.html" if fragment else "drift/policies/preview.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))  # see finding_list
    return response
