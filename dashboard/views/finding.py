"""One finding: its diff side by side, the patch, who changed what, earlier episodes of the
same drift, remediation requests, the audit trail, and the actions people may take."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from alignment import audit_feed
from alignment.rules import RULES
from dashboard.forms.drift import TicketForm, suppression_bounds
from dashboard.views import diffs, present
from dashboard.views.base import back_to, dashboard, form_errors, refusals_as_messages
from drift.models import Finding, FindingStatus, RemediationStrategy
from drift.services import triage
from drift.services.ledger import ADMITTED
from driftcontrol.models import AuditEvent
from driftcontrol.permissions import Action, check, may
from remediation.models import ObjectPin, RemediationRequest
from remediation.services.requests import ACTIVE

AUDIT_SHOWN = 100
EPISODES_SHOWN = 50


def _managers(entries: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Field managers with their time parsed (managedFields stores RFC 3339 text), and
    what alignment noted of the change (admitted while the admission webhook was down)."""
    return [
        {
            "manager": entry.get("manager", ""),
            "operation": entry.get("operation", ""),
            "subresource": entry.get("subresource", ""),
            "time": parse_datetime(entry["time"]) if entry.get("time") else None,
            "admission": entry.get("admission", ""),
        }
        for entry in entries
    ]


def _episodes(finding: Finding) -> list[dict[str, Any]]:
    """Earlier (and later) rows of the same drift: each episode is its own finding."""
    rows = (
        Finding.objects.filter(fingerprint=finding.fingerprint)
        .exclude(pk=finding.pk)
        .only("pk", "status", "severity", "first_seen", "sighted_at", "resolved_at")
        .order_by("-first_seen")[:EPISODES_SHOWN]
    )
    return [
        {
            "finding": row,
            "lasted": present.duration(row.resolved_at - row.first_seen)
            if row.resolved_at
            else "still open",
        }
        for row in rows
    ]


# What each event on a finding means, in words; an unknown code is shown as it is.
AUDIT_WORDS = {
    "finding.acknowledged": "acknowledged it",
    "finding.suppressed": "suppressed it",
    "finding.suppression_ended": "ended its suppression (it counts again)",
    "finding.reopened": "reopened it",
    "finding.resolved": "resolved it after review",
    "finding.ticket_linked": "linked a ticket",
    "finding.ticket_unlinked": "unlinked the ticket",
}


def _audit(user: Any, obj: Any) -> list[dict[str, Any]] | None:
    if not may(user, Action.VIEW_AUDIT):
        return None
    events = AuditEvent.objects.for_object(obj).order_by("-sequence")[:AUDIT_SHOWN]
    return [{"event": e, "words": AUDIT_WORDS.get(e.action, e.action)} for e in events]


@dashboard
def finding_detail(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_object_or_404(
        Finding.objects.select_related("cluster", "policy", "acknowledged_by"), pk=pk
    )
    requests = list(
        RemediationRequest.objects.filter(findings=finding)
        .select_related("requested_by")
        .order_by("-created_at")[:20]
    )
    pin = (
        ObjectPin.objects.active()
        .filter(
            cluster=finding.cluster,
            api_group=finding.api_group,
            kind=finding.kind,
            namespace=finding.namespace,
            name=finding.name,
        )
        .first()
    )
    status = finding.status
    resolved = status == FindingStatus.RESOLVED
    context = {
        "finding": finding,
        "rule": RULES.get(finding.rule) if finding.rule else None,
        "object": present.object_name(finding.kind, finding.namespace, finding.name),
        "fields": diffs.of_finding(finding),
        "patch": json.dumps((finding.diff or {}).get("patch", []), indent=2),
        "attribution": _managers(finding.attribution or []),
        # The users behind the changes, as the cluster's API server audited them.
        "writes": audit_feed.recorded(
            finding.cluster, finding.api_group, finding.kind, finding.namespace, finding.name
        )
        if finding.cluster.audit_token_digest
        else None,
        "retention_days": settings.KUBE_WRITES_RETENTION_DAYS,
        "detected_after": present.duration(finding.first_seen - finding.drift_started_at)
        if finding.drift_started_at
        else None,
        "open_for": present.duration((finding.resolved_at or timezone.now()) - finding.first_seen),
        "episodes": _episodes(finding),
        "requests": requests,
        "active_request": next((r for r in requests if r.status in ACTIVE), None),
        "pin": pin,
        "audit": _audit(request.user, finding),
        "may_acknowledge": status == FindingStatus.OPEN,
        "may_suppress": not resolved,
        "may_reopen": status in (FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED),
        # A change let through by break-glass: no scan can see it gone, a person settles it.
        "may_resolve": not resolved and finding.diff.get("state") == ADMITTED,
        "may_remediate": not resolved and finding.policy_id is not None,
        "strategies": RemediationStrategy.choices,
        "suppression": suppression_bounds(),
    }
    return render(request, "drift/findings/detail.html", context)


@dashboard
@require_POST
def link_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    check(request.user, Action.TRIAGE_FINDING)
    finding = get_object_or_404(Finding, pk=pk)
    back = back_to(request, reverse("finding", args=[finding.pk]))
    form = TicketForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    with refusals_as_messages(request):
        if form.cleaned_data["unlink"]:
            triage.unlink_ticket(finding.pk, request.user)
            messages.success(request, "Ticket unlinked.")
        else:
            ticket = form.cleaned_data["ticket_id"].strip()
            triage.link_ticket(finding.pk, request.user, ticket, form.cleaned_data["url"])
            messages.success(request, f"Linked to ticket {ticket}.")
    return redirect(back)
