"""Remediation requests and their decisions: request, approve, reject, cancel, expire.

Every transition happens in a transaction that locks the request row and re-checks its
state, writes an audit event, and publishes an outbox event. Two approvers clicking at
once, or one approval sent twice, lead to exactly one approval of the plan and one
execution.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from drift.engine.severity import rank
from drift.models import Finding
from driftcontrol import audit
from driftcontrol.exceptions import AlreadyDecided, DomainError, InvalidTransition, NotFound
from driftcontrol.outbox import publish
from driftcontrol.permissions import Action, check
from remediation.models import (
    Approval,
    Decision,
    RemediationRequest,
    RequestStatus,
    RequestTrigger,
)
from remediation.services import planning, strategies
from remediation.services.transitions import mark_approved, payload

ACTIVE = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.EXECUTING)


def request_remediation(
    findings: Iterable[Finding],
    strategy: str,
    user: Any,
    reason: str = "",
    target: dict[str, Any] | None = None,
    trigger: str = RequestTrigger.MANUAL,
    approvals_required: int | None = None,
    rollback_of: RemediationRequest | None = None,
) -> RemediationRequest:
    """Plan a remediation of open findings of one cluster and store it, waiting for its
    approvals (or approved at once when none are needed). ``user`` None is the system."""
    if user is not None:
        check(user, Action.REQUEST_REMEDIATION)
    chosen = sorted({f.pk: f for f in findings}.values(), key=lambda f: f.pk)
    strategy_type = strategies.get(strategy)
    _check_findings(chosen, undoing=rollback_of is not None)
    policy = chosen[0].policy
    assert policy is not None  # _check_findings refuses findings without a policy
    severity = max((f.severity for f in chosen), key=rank)
    if approvals_required is None:
        # Only a request that changes objects needs someone to approve the change.
        approvals_required = (
            policy.approvals_needed(severity) if strategy_type.changes_objects else 0
        )
    draft = RemediationRequest(
        cluster=chosen[0].cluster,
        policy=policy,
        strategy=strategy,
        severity=severity,
        requested_by=user,
        reason=reason,
        trigger=trigger,
        target=target or {},
        approvals_required=approvals_required,
        rollback_of=rollback_of,
        expires_at=timezone.now() + timedelta(seconds=policy.request_expiry_seconds),
    )
    plan = strategy_type(draft).plan(chosen)  # talks to the cluster: outside the transaction
    with transaction.atomic():
        # Every chosen row (exists() would lock only the first one it found).
        locking = Finding.objects.select_for_update().filter(pk__in=[f.pk for f in chosen])
        list(locking.values_list("pk", flat=True))
        # Again, under the locks: a concurrent request may have taken these findings.
        _check_findings(chosen, undoing=rollback_of is not None)
        _store(draft, chosen, plan, user if user is not None else f"system:{trigger}")
    return draft


def _store(
    draft: RemediationRequest, chosen: list[Finding], plan: planning.Plan, actor: Any
) -> None:
    """Within the caller's transaction: the request with its plan, audited and published;
    approved at once when it needs no approval."""
    draft.revision = plan.revision
    draft.plan = plan.summary()
    draft.save()
    draft.findings.set(chosen)
    planning.store(draft, plan)
    audit.record(
        actor,
        "remediation.requested",
        draft,
        {
            "strategy": draft.strategy,
            "findings": [f.pk for f in chosen],
            "approvalsRequired": draft.approvals_required,
            "reason": draft.reason,
            "plan": draft.plan,
        },
    )
    publish("remediation.requested", payload(draft))
    if draft.approvals_required == 0:
        mark_approved(draft, "no approval needed at this severity")


def _check_findings(findings: list[Finding], undoing: bool = False) -> None:
    """Refuse what cannot be one request. Undoing a remediation (``undoing``) covers the
    findings it resolved."""
    if not findings:
        raise DomainError("name at least one finding to remediate")
    if len({f.cluster_id for f in findings}) > 1:
        raise DomainError(
            "a request covers findings of one cluster; request each cluster separately"
        )
    if len({f.policy_id for f in findings}) > 1:
        raise DomainError("the findings belong to different policies; request them separately")
    closed = [f.pk for f in findings if f.status == "resolved"]
    if closed and not undoing:
        raise InvalidTransition(f"finding(s) {', '.join(map(str, closed))} are resolved")
    if findings[0].policy is None:
        raise DomainError("the findings' policy is gone")
    busy = RemediationRequest.objects.filter(
        status__in=ACTIVE, findings__in=[f.pk for f in findings]
    ).first()
    if busy is not None:
        raise InvalidTransition(
            f"request #{busy.pk} ({busy.status}) already covers some of these findings"
        )


def _locked(request_id: int) -> RemediationRequest:
    try:
        return (
            RemediationRequest.objects.select_for_update(of=("self",))
            .select_related("cluster", "policy", "requested_by")
            .get(pk=request_id)
        )
    except RemediationRequest.DoesNotExist:
        raise NotFound(f"no remediation request #{request_id}") from None


def _expire_if_due(request: RemediationRequest) -> None:
    if request.status == RequestStatus.PENDING and request.expires_at <= timezone.now():
        request.status = RequestStatus.EXPIRED
        request.save(update_fields=["status", "updated_at"])
        audit.record("system:remediation", "remediation.expired", request, {})
        publish("remediation.expired", payload(request))


def _expire(request_id: int, user: Any) -> None:
    """Expire a request past its time in a transaction of its own, so that the refusal
    that follows does not roll the expiry back (only for someone who may decide on it)."""
    with transaction.atomic():
        request = _locked(request_id)
        check(user, Action.DECIDE_REMEDIATION, request)
        _expire_if_due(request)


def approve(request_id: int, user: Any, comment: str = "") -> RemediationRequest:
    """Record one approval; the last one needed approves the plan and queues it."""
    _expire(request_id, user)
    with transaction.atomic():
        request = _locked(request_id)
        check(user, Action.DECIDE_REMEDIATION, request)
        if request.status != RequestStatus.PENDING:
            raise InvalidTransition(
                f"request #{request.pk} is {request.status}; only a request "
                "waiting for approval can be approved"
            )
        _decide(request, user, Decision.APPROVE, comment)
        given = request.approvals.filter(
            decision=Decision.APPROVE, plan_version=request.plan_version
        ).count()
        if given >= request.approvals_required:
            mark_approved(request, f"{given} of {request.approvals_required} approval(s)")
        else:  # the request's approvals changed: a sync client reads them again
            request.save(update_fields=["updated_at"])
    return request


def reject(request_id: int, user: Any, comment: str) -> RemediationRequest:
    """Any rejection ends the request; nothing reaches the cluster."""
    if not comment.strip():
        raise DomainError("say why: a rejection needs a comment")
    _expire(request_id, user)
    with transaction.atomic():
        request = _locked(request_id)
        check(user, Action.DECIDE_REMEDIATION, request)
        if request.status not in (RequestStatus.PENDING, RequestStatus.APPROVED):
            raise InvalidTransition(
                f"request #{request.pk} is {request.status}; it can no longer be rejected"
            )
        _decide(request, user, Decision.REJECT, comment)
        request.status = RequestStatus.REJECTED
        request.status_reason = comment
        request.save(update_fields=["status", "status_reason", "updated_at"])
        audit.record(user, "remediation.rejected", request, {"comment": comment})
        publish("remediation.rejected", payload(request, comment=comment))
    return request


def _decide(request: RemediationRequest, user: Any, decision: str, comment: str) -> None:
    try:
        with transaction.atomic():
            Approval.objects.create(
                request=request,
                approver=user,
                decision=decision,
                comment=comment,
                plan_version=request.plan_version,
            )
    except IntegrityError:
        raise AlreadyDecided(
            f"{user.get_username()} has already decided on request #{request.pk}"
        ) from None
    audit.record(
        user,
        f"remediation.{decision}_given",
        request,
        {"comment": comment, "planVersion": request.plan_version},
    )


def cancel(request_id: int, user: Any, comment: str = "") -> RemediationRequest:
    with transaction.atomic():
        request = _locked(request_id)
        check(user, Action.CANCEL_REMEDIATION, request)
        if request.status not in (RequestStatus.PENDING, RequestStatus.APPROVED):
            raise InvalidTransition(
                f"request #{request.pk} is {request.status}; only pending "
                "or approved requests can be cancelled"
            )
        request.status, request.status_reason = RequestStatus.CANCELLED, comment
        request.save(update_fields=["status", "status_reason", "updated_at"])
        audit.record(user, "remediation.cancelled", request, {"comment": comment})
        publish("remediation.cancelled", payload(request))
    return request


def expire_due() -> int:
    """Expire every pending request past its expiry (a beat task)."""
    expired = 0
    for request_id in RemediationRequest.objects.filter(
        status=RequestStatus.PENDING, expires_at__lte=timezone.now()
    ).values_list("pk", flat=True):
        with transaction.atomic():
            request = _locked(request_id)
            _expire_if_due(request)  # re-checked under the lock
            expired += request.status == RequestStatus.EXPIRED
    return expired
