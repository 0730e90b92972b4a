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
from drift.models import Finding, RemediationStrategy
from driftcontrol import audit, queue
from driftcontrol.exceptions import AlreadyDecided, DomainError, InvalidTransition, NotFound
from driftcontrol.outbox import publish
from driftcontrol.permissions import Action, check
from remediation.models import (
    Approval,
    Decision,
    RemediationRequest,
    RemediationStep,
    RequestStatus,
    RequestTrigger,
)
from remediation.services import planning

# The task that executes an approved request (remediation/tasks.py), queued by name.
EXECUTE = "remediation.execute"
ACTIVE = (RequestStatus.PENDING, RequestStatus.APPROVED, RequestStatus.EXECUTING)


def payload(request: RemediationRequest, **extra: Any) -> dict[str, Any]:
    from django.conf import settings

    base = settings.BASE_URL.rstrip("/")
    return {
        "request": {
            "id": request.pk,
            "strategy": request.strategy,
            "status": request.status,
            "severity": request.severity,
            "cluster": request.cluster.name,
            "policy": request.policy.name if request.policy else None,
            "trigger": request.trigger,
            "planVersion": request.plan_version,
            "findings": list(request.findings.values_list("pk", flat=True)),
            "approvalsRequired": request.approvals_required,
            "requestedBy": request.requested_by.get_username()
            if request.requested_by
            else "system",
        },
        "links": {
            "ui": f"{base}/remediations/{request.pk}/",
            "api": f"{base}/api/v1/remediations/{request.pk}/",
        },
        **extra,
    }


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
    if strategy not in RemediationStrategy.values:
        raise DomainError(f"unknown strategy {strategy!r}; use sync, rollback or alert")
    _check_findings(chosen, undoing=rollback_of is not None)
    policy = chosen[0].policy
    assert policy is not None  # _check_findings refuses findings without a policy
    severity = max((f.severity for f in chosen), key=rank)
    if approvals_required is None:
        approvals_required = (
            0 if strategy == RemediationStrategy.ALERT else policy.approvals_needed(severity)
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
    plan = planning.make(draft, chosen)  # talks to the cluster: outside the transaction
    with transaction.atomic():
        Finding.objects.select_for_update().filter(pk__in=[f.pk for f in chosen]).exists()
        # Again, under the locks: a concurrent request may have taken these findings.
        _check_findings(chosen, undoing=rollback_of is not None)
        draft.revision = plan.revision
        draft.plan = plan.summary()
        draft.save()
        draft.findings.set(chosen)
        _store_steps(draft, plan)
        audit.record(
            user if user is not None else f"system:{trigger}",
            "remediation.requested",
            draft,
            {
                "strategy": strategy,
                "findings": [f.pk for f in chosen],
                "approvalsRequired": approvals_required,
                "reason": reason,
                "plan": draft.plan,
            },
        )
        publish("remediation.requested", payload(draft))
        if approvals_required == 0:
            _approved(draft, "no approval needed at this severity")
    return draft


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


def _store_steps(request: RemediationRequest, plan: planning.Plan) -> None:
    request.steps.all().delete()
    RemediationStep.objects.bulk_create(
        [
            RemediationStep(
                request=request,
                position=position,
                finding=step.finding,
                api_version=step.api_version,
                kind=step.key.kind,
                namespace=step.key.namespace,
                name=step.key.name,
                action=step.action,
                source=step.source,
                base_resource_version=step.base_resource_version,
                base_digest=step.base_digest,
                planned=step.planned,
                changes=step.changes,
                takeovers=step.takeovers,
                status="skipped" if step.skipped else "pending",
                result={"skipped": step.skipped} if step.skipped else {},
            )
            for position, step in enumerate(plan.steps)
        ]
    )


def _approved(request: RemediationRequest, why: str) -> None:
    """Within the caller's transaction: mark approved, queue execution after commit."""
    request.status, request.approved_at = RequestStatus.APPROVED, timezone.now()
    request.save(update_fields=["status", "approved_at", "updated_at"])
    audit.record("system:remediation", "remediation.approved", request, {"why": why})
    publish("remediation.approved", payload(request))
    queue.after_commit(EXECUTE, request.pk)


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
            _approved(request, f"{given} of {request.approvals_required} approval(s)")
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


def send_back(request: RemediationRequest, why: str, findings: list[Finding]) -> None:
    """Re-plan a request whose cluster changed under it; earlier approvals no longer count.

    Called by the executor with the request locked; a request that needs no approval is
    approved again with the new plan at once.
    """
    plan = planning.make(request, findings)
    request.plan_version += 1
    request.revision, request.plan = plan.revision, plan.summary()
    request.status, request.status_reason = RequestStatus.PENDING, why
    request.lease_until = None
    request.expires_at = timezone.now() + timedelta(
        seconds=request.policy.request_expiry_seconds if request.policy else 86400
    )
    request.save()
    _store_steps(request, plan)
    audit.record(
        "system:remediation",
        "remediation.replanned",
        request,
        {"why": why, "planVersion": request.plan_version, "plan": request.plan},
    )
    publish("remediation.requested", payload(request, replanned=True, why=why))
    if request.approvals_required == 0:
        _approved(request, "re-planned; no approval needed at this severity")
