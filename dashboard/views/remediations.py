"""Remediation pages: the approval queue, the list of requests, one request's story, and the
decisions (approve, reject, cancel), which the services check, lock and audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.forms.remediation import ApproveForm, CancelForm, RejectForm, RequestFilterForm
from dashboard.views import diffs, present
from dashboard.views.base import back_to, dashboard, form_errors, refusals_as_messages
from dashboard.views.paging import paginate
from drift.engine import windows
from drift.models import DriftPolicy, Finding
from driftcontrol.models import AuditEvent
from driftcontrol.permissions import Action, check, may
from remediation import services
from remediation.models import (
    Approval,
    Decision,
    RemediationRequest,
    RemediationStep,
    RequestStatus,
)

QUEUE_PAGE = 20
LIST_PAGE = 50
LIVE = (RequestStatus.APPROVED, RequestStatus.EXECUTING)
NEVER_RUN = (RequestStatus.REJECTED, RequestStatus.EXPIRED, RequestStatus.CANCELLED)

# How each audit action of a request reads in its timeline.
STORY = {
    "remediation.requested": "Requested",
    "remediation.approve_given": "Approval given",
    "remediation.reject_given": "Rejection given",
    "remediation.approved": "Approved",
    "remediation.rejected": "Rejected",
    "remediation.expired": "Expired without enough approvals",
    "remediation.cancelled": "Cancelled",
    "remediation.replanned": "Re-planned: the cluster changed after the plan was made",
    "remediation.started": "Execution started",
    "remediation.resumed": "Execution resumed by another worker",
    "remediation.step_applying": "Applying an object",
    "remediation.step_applied": "Object applied",
    "remediation.step_failed": "Object failed",
    "remediation.step_skipped": "Object skipped",
    "remediation.succeeded": "Succeeded: applied and verified",
    "remediation.failed": "Failed",
    "remediation.rolled_back": "Rolled back",
}


def window_state(policy: DriftPolicy | None, now: datetime) -> dict[str, Any]:
    """Whether an approved request could run now, under its policy's change windows."""
    documents = policy.change_windows if policy is not None else []
    if not documents:
        return {"open": True, "text": "No change windows: runs as soon as it is approved."}
    try:
        if windows.is_open(documents, now):
            return {"open": True, "text": "A change window is open now."}
        opening = windows.next_opening(documents, now)
    except (ValueError, KeyError) as error:  # stored before validation existed
        return {"open": False, "text": f"The policy's change windows cannot be read: {error}"}
    if opening is None:
        return {"open": False, "text": "Closed, and no window opens in the next week."}
    return {
        "open": False,
        "text": "Closed: the next window opens",
        "opens_at": opening,
        "opens_in": present.until(opening, now),
    }


def _with_plan() -> QuerySet[RemediationRequest]:
    return RemediationRequest.objects.select_related(
        "cluster", "policy", "requested_by"
    ).prefetch_related(
        Prefetch("steps", queryset=RemediationStep.objects.order_by("position")),
        Prefetch(
            "findings",
            queryset=Finding.objects.defer("diff", "attribution").order_by(
                "-severity_rank", "kind", "name"
            ),
        ),
        Prefetch("approvals", queryset=Approval.objects.select_related("approver")),
    )


@dataclass
class Decisions:
    """A request's approvals as people read them: only the current plan's count."""

    request: RemediationRequest
    user: Any
    now: datetime
    current: list[Approval] = field(init=False)
    earlier: list[Approval] = field(init=False)

    def __post_init__(self) -> None:
        version = self.request.plan_version
        everything = list(self.request.approvals.all())
        self.current = [a for a in everything if a.plan_version == version]
        self.earlier = [a for a in everything if a.plan_version != version]

    @property
    def given(self) -> int:
        return sum(a.decision == Decision.APPROVE for a in self.current)

    @property
    def mine(self) -> Approval | None:
        return next((a for a in self.current if a.approver_id == self.user.pk), None)

    @property
    def expired(self) -> bool:
        return self.request.expires_at <= self.now

    @property
    def may_decide(self) -> bool:
        return (
            self.request.status == RequestStatus.PENDING
            and not self.expired
            and self.mine is None
            and may(self.user, Action.DECIDE_REMEDIATION, self.request)
        )

    @property
    def own_request(self) -> bool:
        return self.request.requested_by_id is not None and (
            self.request.requested_by_id == self.user.pk
        )


def _steps(found: RemediationRequest) -> list[dict[str, Any]]:
    return [
        {
            "step": step,
            "object": present.object_name(step.kind, step.namespace, step.name),
            "changes": diffs.of_changes(step.changes),
            "more_changes": max(0, len(step.changes) - diffs.CHANGES_SHOWN),
        }
        for step in found.steps.all()
    ]


def _card(
    found: RemediationRequest, user: Any, now: datetime, windows_seen: dict[Any, Any]
) -> dict[str, Any]:
    """What the queue and the detail page show of one request (all from prefetched rows)."""
    if found.policy_id not in windows_seen:  # one computation per policy, not per request
        windows_seen[found.policy_id] = window_state(found.policy, now)
    return {
        "remediation": found,
        "decisions": Decisions(found, user, now),
        "expires_in": present.until(found.expires_at, now),
        "window": windows_seen[found.policy_id],
        "steps": _steps(found),
        "findings": list(found.findings.all()),
    }


@dashboard
def approval_queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    pending = _with_plan().filter(status=RequestStatus.PENDING).order_by("expires_at", "pk")
    page = paginate(pending, request.GET.get("page"), QUEUE_PAGE)
    windows_seen: dict[int | None, dict[str, Any]] = {}
    context = {
        "page": page,
        "cards": [_card(r, request.user, now, windows_seen) for r in page.rows],
        "now": now,
    }
    return render(request, "remediation/queue.html", context)


@dashboard
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None)
    rows = (
        RemediationRequest.objects.select_related("cluster", "policy", "requested_by")
        .with_approvals_given()
        .annotate(
            finding_count=Count("findings", distinct=True),
        )
        .order_by("-created_at", "-pk")
    )
    chosen: list[str] = []
    if form.is_valid():
        chosen = form.cleaned_data["status"]
        if chosen:
            rows = rows.filter(status__in=chosen)
        if form.cleaned_data["cluster"]:
            rows = rows.filter(cluster__name=form.cleaned_data["cluster"])
    context = {
        "page": paginate(rows, request.GET.get("page"), LIST_PAGE),
        "statuses": [
            {"value": v, "label": label, "checked": v in chosen}
            for v, label in RequestStatus.choices
        ],
        "cluster": request.GET.get("cluster", ""),
    }
    return render(request, "remediation/list.html", context)


def _timeline(found: RemediationRequest) -> list[dict[str, Any]]:
    events = AuditEvent.objects.for_object(found).order_by("sequence")
    story = []
    for event in events:
        data = event.data or {}
        detail = (
            data.get("comment") or data.get("reason") or data.get("why") or data.get("object") or ""
        )
        story.append(
            {
                "event": event,
                "label": STORY.get(event.action, event.action),
                "detail": detail,
                "error": data.get("error", ""),
                "plan_version": data.get("planVersion"),
            }
        )
    return story


@dashboard
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    now = timezone.now()
    found = get_object_or_404(_with_plan().select_related("rollback_of"), pk=pk)
    result = found.result or {}
    card = _card(found, request.user, now, {})
    context = {
        **card,
        "card": card,
        "timeline": _timeline(found) if may(request.user, Action.VIEW_AUDIT) else None,
        "rollbacks": list(found.rollbacks.order_by("-created_at")),
        "verified": result.get("verified"),
        "remaining": sorted((result.get("remaining") or {}).items()),
        "may_cancel": found.status in (RequestStatus.PENDING, RequestStatus.APPROVED)
        and may(request.user, Action.CANCEL_REMEDIATION, found),
        "live": found.status in LIVE,
        # Labels that tell the truth after the fact: a plan's "live now" column was live
        # when it was planned, and a step of a request that will never run is not pending.
        "ran": found.status not in (RequestStatus.PENDING, RequestStatus.APPROVED, *NEVER_RUN),
        "never_run": found.status in NEVER_RUN,
    }
    return render(request, "remediation/detail.html", context)


@dashboard
def request_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Polled by the detail page while a request is approved or executing: the same state
    returns the small fragment; a new state asks htmx to reload the whole page."""
    found = get_object_or_404(RemediationRequest, pk=pk)
    if found.status != request.GET.get("seen"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    done = found.steps.filter(status__in=["applied", "failed", "skipped"]).count()
    context = {"remediation": found, "done": done, "total": found.steps.count()}
    return render(request, "remediation/_status.html", context)


def _decided_message(decided: RemediationRequest) -> str:
    if decided.status == RequestStatus.APPROVED:
        window = window_state(decided.policy, timezone.now())
        if window["open"]:
            return f"Request #{decided.pk} is approved: it runs now."
        return f"Request #{decided.pk} is approved: it waits for its change window."
    given = decided.approvals.filter(
        decision=Decision.APPROVE, plan_version=decided.plan_version
    ).count()
    return (
        f"Your approval of request #{decided.pk} is recorded: "
        f"{given} of {decided.approvals_required} given."
    )


@dashboard
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(RemediationRequest, pk=pk)
    # Checked before the form too, so a forged decision is a 403 whatever it carries; the
    # service checks again under the row lock.
    check(request.user, Action.DECIDE_REMEDIATION, found)
    back = back_to(request, reverse("remediation", args=[pk]))
    form = ApproveForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    with refusals_as_messages(request):
        decided = services.approve(pk, request.user, form.cleaned_data["comment"])
        messages.success(request, _decided_message(decided))
        if decided.status == RequestStatus.APPROVED:
            # The last approval starts the run: follow it on the request's page (its
            # progress updates live there), wherever the approval was given.
            return redirect("remediation", pk=pk)
    return redirect(back)


@dashboard
@require_POST
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(RemediationRequest, pk=pk)
    check(request.user, Action.DECIDE_REMEDIATION, found)
    back = back_to(request, reverse("remediation", args=[pk]))
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    with refusals_as_messages(request):
        services.reject(pk, request.user, form.cleaned_data["comment"])
        messages.success(request, f"Request #{pk} is rejected; nothing reaches the cluster.")
    return redirect(back)


@dashboard
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(RemediationRequest, pk=pk)
    check(request.user, Action.CANCEL_REMEDIATION, found)
    back = back_to(request, reverse("remediation", args=[pk]))
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(back)
    with refusals_as_messages(request):
        services.cancel(pk, request.user, form.cleaned_data["comment"])
        messages.success(request, f"Request #{pk} is cancelled.")
    return redirect(back)
