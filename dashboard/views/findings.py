"""The findings list: FindingFilter's filters, sorting, bounded pagination, and the bulk
actions (acknowledge, suppress, reopen, request remediation)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from dashboard.forms.drift import FindingActionForm, suppression_bounds
from dashboard.views.base import back_to, dashboard, form_errors, refusals_as_messages
from dashboard.views.paging import paginate
from drift.filters import OPEN, FindingFilter
from drift.models import (
    Cluster,
    DriftPolicy,
    Finding,
    FindingStatus,
    FindingType,
    Lane,
    RemediationStrategy,
    Severity,
)
from drift.services import triage
from driftcontrol.permissions import Action, check
from remediation import services as remediation
from remediation.models import RemediationRequest, RequestStatus

PER_PAGE = 50
ACTIVE_REQUESTS = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.EXECUTING)

# Column -> the direction a first click sorts in: worst, newest and most frequent first.
SORTABLE = {
    "severity": "-",
    "kind": "",
    "namespace": "",
    "name": "",
    "first_seen": "-",
    "last_seen": "-",
    "occurrences": "-",
}
# Worst first by default: a list sorted by time alone buries a critical finding under
# today's low ones. The partial index on open findings (-severity_rank, -last_seen) serves it.
DEFAULT_ORDER = ("-severity_rank", "-last_seen")
SORT_CHOICES = [
    ("", "Severity, worst first, then newest"),
    ("severity", "Severity, mildest first"),
    ("-last_seen", "Last seen, newest first"),
    ("last_seen", "Last seen, oldest first"),
    ("-first_seen", "First seen, newest first"),
    ("first_seen", "First seen, oldest first"),
    ("-occurrences", "Episodes, most first"),
    ("occurrences", "Episodes, fewest first"),
    ("kind", "Kind, A to Z"),
    ("-kind", "Kind, Z to A"),
    ("namespace", "Namespace, A to Z"),
    ("-namespace", "Namespace, Z to A"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
]
STATUS_CHOICES = [(OPEN, "Not resolved (suppressed too)"), *FindingStatus.choices]
# What the list opens on: open drift as every page counts it (open and acknowledged).
# Suppressed findings are accepted for now; they are one tick away, not mixed in.
DEFAULT_STATUSES = [FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED]


def list_params(query: Any) -> Any:
    """The request's filters, with the list's default statuses when it names none."""
    params = query.copy()
    if "status" not in params:
        params.setlist("status", DEFAULT_STATUSES)
    return params


def _listed() -> QuerySet[Finding]:
    # The diff can be a whole manifest: the list reads only its paths.
    return (
        Finding.objects.select_related("cluster", "policy")
        .defer("diff", "attribution")
        .annotate(drift_paths=KeyTransform("paths", "diff"), remediation=_in_remediation())
    )


def _in_remediation() -> Subquery:
    """The newest request still on its way (waiting, approved or running) that covers the
    finding: a list must not invite a second request for drift already being fixed. One
    index lookup per row of the page, as the subquery runs after the LIMIT."""
    active = RemediationRequest.findings.through.objects.filter(
        finding_id=OuterRef("pk"),
        remediationrequest__status__in=ACTIVE_REQUESTS,
    ).order_by("-remediationrequest_id")
    return Subquery(active.values("remediationrequest_id")[:1])


def _options(choices: list[tuple[str, str]], chosen: list[str]) -> list[dict[str, Any]]:
    return [{"value": v, "label": label, "checked": v in chosen} for v, label in choices]


def _sorts(current: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the ordering its header link asks for, and its aria-sort."""
    sorts = {}
    for column, first in SORTABLE.items():
        if current == column:
            sorts[column] = {"next": f"-{column}", "aria": "ascending"}
        elif current == f"-{column}":
            sorts[column] = {"next": column, "aria": "descending"}
        else:
            sorts[column] = {"next": f"{first}{column}", "aria": "none"}
    if not current:
        sorts["severity"]["aria"] = "descending"
        sorts["severity"]["next"] = "severity"
    return sorts


@dashboard
def finding_list(request: HttpRequest) -> HttpResponse:
    params = list_params(request.GET)
    finder = FindingFilter(params, queryset=_listed())
    rows = finder.qs
    # A unique tie-breaker keeps pages stable when many findings share a timestamp.
    rows = rows.order_by(*(rows.query.order_by or DEFAULT_ORDER), "-pk")
    page = paginate(rows, request.GET.get("page"), PER_PAGE)
    current_sort = (params.get("ordering") or "").strip()
    if current_sort == "-severity":  # the default order, spelled out
        current_sort = ""
    context = {
        "page": page,
        "finder": finder,
        "params": params,
        "sorts": _sorts(current_sort),
        "sort_choices": [(v, label, v == current_sort) for v, label in SORT_CHOICES],
        "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
        "lanes": list(Lane.objects.order_by("name").values_list("name", flat=True)),
        "policies": list(DriftPolicy.objects.order_by("name").values_list("name", flat=True)),
        "severities": _options(Severity.choices[::-1], params.getlist("severity")),
        "types": _options(FindingType.choices, params.getlist("type")),
        "statuses": _options(STATUS_CHOICES, params.getlist("status")),
        "strategies": RemediationStrategy.choices,
        "suppression": suppression_bounds(),
        "filtered": any(
            params.get(key) for key in ("cluster", "lane", "policy", "namespace", "kind", "q")
        )
        or bool(params.getlist("severity") or params.getlist("type"))
        or params.getlist("status") != DEFAULT_STATUSES,
    }
    # htmx asks for the whole page when it restores one for Back and its history cache
    # misses: the results alone would leave the page without its filters.
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "drift/findings/_results.html" if fragment else "drift/findings/list.html"
    response = render(request, template, context)
    # One URL, two bodies: without Vary, the browser's cache may answer Back (a plain
    # navigation) with the results fragment an htmx request stored under that URL.
    patch_vary_headers(response, ("HX-Request",))
    return response


def _report(request: HttpRequest, outcome: triage.Outcome, done: str) -> None:
    changed = len(outcome.changed)
    if changed:
        noun = "finding" if changed == 1 else "findings"
        messages.success(request, f"{done} {changed} {noun}.")
    if outcome.skipped:
        why = "; ".join(f"#{pk} {reason}" for pk, reason in sorted(outcome.skipped.items()))
        messages.warning(request, f"Left unchanged: {why}.")


def _mixed(findings: list[Finding]) -> str | None:
    """Why these findings cannot be one remediation request, in words people act on."""
    clusters = sorted({f.cluster.name for f in findings})
    policies = sorted({f.policy.name if f.policy else "(no policy)" for f in findings})
    if len(clusters) == 1 and len(policies) == 1:
        return None
    mixes = []
    if len(clusters) > 1:
        mixes.append(f"clusters {', '.join(clusters)}")
    if len(policies) > 1:
        mixes.append(f"policies {', '.join(policies)}")
    return (
        f"The selection mixes {' and '.join(mixes)}. A remediation request covers the findings "
        "of one cluster and one policy: filter the list by cluster and policy, and request "
        "each separately."
    )


def _request_remediation(request: HttpRequest, form: FindingActionForm, back: str) -> HttpResponse:
    ids = form.cleaned_data["finding"]
    findings = list(Finding.objects.filter(pk__in=ids).select_related("cluster", "policy"))
    if len(findings) != len(ids):
        messages.error(request, "Some of the selected findings no longer exist; select again.")
        return redirect(back)
    mixed = _mixed(findings)
    if mixed:
        messages.error(request, mixed)
        return redirect(back)
    made = remediation.request_remediation(
        findings,
        form.cleaned_data["strategy"],
        request.user,
        form.cleaned_data["request_reason"],
    )
    if made.status == "pending":
        needed = made.approvals_required
        messages.success(
            request,
            f"Remediation request #{made.pk} created: it waits for {needed} "
            f"approval{'s' if needed != 1 else ''}.",
        )
    else:
        messages.success(request, f"Remediation request #{made.pk} needs no approval: it runs now.")
    return redirect("remediation", pk=made.pk)


@dashboard
@require_POST
def finding_actions(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    # Refuse a forged action before looking at its data: a viewer gets a 403, not a hint.
    check(
        request.user,
        Action.REQUEST_REMEDIATION if action == "remediate" else Action.TRIAGE_FINDING,
    )
    back = back_to(request, reverse("findings"))
    form = FindingActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    ids, user, data = form.cleaned_data["finding"], request.user, form.cleaned_data
    with refusals_as_messages(request):
        if action == "remediate":
            return _request_remediation(request, form, back)
        if action == "acknowledge":
            _report(request, triage.acknowledge(ids, user, data["comment"]), "Acknowledged")
        elif action == "suppress":
            until = form.suppressed_until()
            outcome = triage.suppress(ids, user, data["reason"], until)
            _report(request, outcome, f"Suppressed through {data['until']:%Y-%m-%d}:")
        elif action == "reopen":
            _report(request, triage.reopen(ids, user), "Reopened")
    return redirect(back)
