"""Scans: the list with live progress of running scans, one scan's evidence and outcome,
and "scan now" for operators."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dashboard.forms.drift import ScanRequestForm
from dashboard.views import present
from dashboard.views.base import back_to, dashboard, form_errors
from dashboard.views.paging import paginate
from drift.filters import ScanFilter
from drift.models import (
    Cluster,
    DriftPolicy,
    Finding,
    FindingStatus,
    Scan,
    ScanStatus,
    ScanTrigger,
)
from drift.services import clusters, scanning
from driftcontrol.permissions import Action, check, may

PER_PAGE = 50
RUNNING = (ScanStatus.QUEUED, ScanStatus.RUNNING)


def scan_pairs() -> dict[str, tuple[DriftPolicy, Cluster]]:
    """Every enabled policy with each cluster it targets, keyed "policy/cluster"."""
    pairs = {}
    for policy in DriftPolicy.objects.filter(enabled=True).select_related("source"):
        for cluster in clusters.targets(policy):
            pairs[f"{policy.name}/{cluster.name}"] = (policy, cluster)
    return pairs


@dashboard
def scan_list(request: HttpRequest) -> HttpResponse:
    finder = ScanFilter(
        request.GET or None,
        queryset=Scan.objects.select_related("policy", "cluster", "requested_by").order_by(
            "-created_at", "-pk"
        ),
    )
    page = paginate(finder.qs, request.GET.get("page"), PER_PAGE)
    context = {
        "page": page,
        "finder": finder,
        "statuses": [
            {"value": v, "label": label, "checked": v in request.GET.getlist("status")}
            for v, label in ScanStatus.choices
        ],
        "policies": list(DriftPolicy.objects.values_list("name", flat=True)),
        "clusters": list(Cluster.objects.values_list("name", flat=True)),
        "pairs": sorted(scan_pairs()) if may(request.user, Action.RUN_SCAN) else [],
    }
    return render(request, "drift/scans/list.html", context)


@dashboard
def scan_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls while a scan runs; once it has finished the
    fragment comes back without its polling trigger, and the polling stops."""
    scan = get_object_or_404(Scan, pk=pk)
    return render(request, "drift/scans/_progress.html", {"scan": scan})


@dashboard
def scan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scans = Scan.objects.select_related("policy", "cluster", "requested_by")
    scan = get_object_or_404(scans, pk=pk)
    # Last seen by this scan: written by it, or open in its scope when it was the scope's
    # last complete pass (the ledger writes no row for drift seen again).
    in_scope = Q(policy=scan.policy_id, cluster=scan.cluster_id) & ~Q(status=FindingStatus.RESOLVED)
    seen = (
        Finding.objects.filter(Q(sighted_by=scan) | in_scope, last_scan_id=scan.pk)
        .select_related("cluster")
        .defer("diff", "attribution")
        .order_by("-severity_rank", "kind", "name")[:200]
    )
    ended = scan.finished_at or scan.heartbeat_at
    context = {
        "scan": scan,
        "findings": list(seen),
        "took": present.duration(ended - scan.started_at) if ended and scan.started_at else None,
        "running": scan.status in RUNNING,
    }
    return render(request, "drift/scans/detail.html", context)


@dashboard
@require_POST
def request_scan(request: HttpRequest) -> HttpResponse:
    # scanning.request does not check roles (the CLI and hooks call it too): the view does.
    check(request.user, Action.RUN_SCAN)
    back = back_to(request, reverse("scans"))
    form = ScanRequestForm(request.POST, pairs=scan_pairs())
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    policy, cluster = form.cleaned_data["pair"]
    scan, created = scanning.request(policy, cluster, ScanTrigger.MANUAL, user=request.user)
    if created:
        messages.success(request, f"Scan #{scan.pk} of {policy.name} on {cluster.name} queued.")
    else:
        messages.info(
            request,
            f"A scan of {policy.name} on {cluster.name} is already {scan.status} (#{scan.pk}).",
        )
    return redirect(back)
