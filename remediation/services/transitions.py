"""Transitions that requests, re-planning and the executor share.

Each writes the request's audit event and publishes its outbox event in the caller's
transaction, so a state change and its story are stored together or not at all. They live
here, below both the request services and the executor, so that neither reaches into the
other.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from driftcontrol import audit, queue
from driftcontrol.outbox import publish
from remediation.models import RemediationRequest, RequestStatus

# The task that executes an approved request (remediation/tasks.py), queued by name.
EXECUTE = "remediation.execute"


def payload(request: RemediationRequest, **extra: Any) -> dict[str, Any]:
    """The outbox payload of a request event: who, what, where, and links to it, in webhook
    payload version 2 (snake_case; the schema is in driftcontrol/webhooks/schemas.py)."""
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
            "plan_version": request.plan_version,
            "findings": list(request.findings.values_list("pk", flat=True)),
            "approvals_required": request.approvals_required,
            "requested_by": request.requested_by.get_username()
            if request.requested_by
            else "system",
        },
        "links": {
            "ui": f"{base}/remediations/{request.pk}/",
            "api": f"{base}/api/v1/remediations/{request.pk}/",
        },
        **extra,
    }


def mark_approved(request: RemediationRequest, why: str) -> None:
    """Within the caller's transaction: mark approved, queue execution after commit.

    Queued on commit, so a worker finds the approval stored; the caller holds the row lock,
    so two approvals at once queue one execution.
    """
    request.status, request.approved_at = RequestStatus.APPROVED, timezone.now()
    request.save(update_fields=["status", "approved_at", "updated_at"])
    audit.record("system:remediation", "remediation.approved", request, {"why": why})
    publish("remediation.approved", payload(request))
    queue.after_commit(EXECUTE, request.pk)


def finish(request: RemediationRequest, status: str, reason: str, result: dict[str, Any]) -> None:
    """End an execution: the final status, why, the outcome; the lease is given up."""
    with transaction.atomic():
        now = timezone.now()
        RemediationRequest.objects.filter(pk=request.pk).update(
            status=status,
            status_reason=reason[:2000],
            result=result,
            finished_at=now,
            updated_at=now,
            lease_until=None,
        )
        request.refresh_from_db()
        audit.record(
            "system:remediation", f"remediation.{status}", request, {"reason": reason, **result}
        )
        if status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
            publish(f"remediation.{status}", payload(request, reason=reason, result=result))
