"""The findings list: FindingFilter's filters, sorting, bounded pagination, and the bulk
actions (acknowledge, suppress, reopen, request remediation)."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from dashboard.forms.drift import suppression_bounds
from dashboard.views.base import dashboard
from dashboard.views.paging import paginate
from drift import search
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


def ordered(rows: QuerySet[Finding], params: Any) -> QuerySet[Finding]:
    """The list's order: the one asked for, else worst first. With one severity chosen,
    the severity is the same on every row: ordering by it too would keep PostgreSQL from
    walking the (status, severity, -last_seen) index, and sort a million rows instead. A
    unique tie-breaker keeps pages stable when many findings share a timestamp."""
    order = rows.query.order_by or DEFAULT_ORDER
    if order == DEFAULT_ORDER and len(set(params.getlist("severity"))) == 1:
        order = DEFAULT_ORDER[1:]
    return rows.order_by(*order, "-pk")


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
    rows = ordered(finder.qs, params)
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
        "search_says": search.SAYS[search.mode()],
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
