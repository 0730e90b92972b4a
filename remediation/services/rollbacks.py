"""Automatic rollback: a failed remediation is undone when its policy asks for it.

When an object is refused or the result does not verify, and the policy's
`rollbackOnFailedVerification` is on (the default), a rollback request to the snapshots
taken just before the remediation touched each object is made and runs at once, without
approval: it restores what people had approved against. Pins on what it restores keep
auto-remediation from undoing it (`strategies/rollback.py`, `pins.py`).
"""

from __future__ import annotations

from drift.models import ObjectSnapshot, RemediationStrategy
from remediation.models import RemediationRequest, RequestTrigger, StepStatus
from remediation.services import requests, strategies


def roll_back_if_asked(request_id: int) -> RemediationRequest | None:
    """The rollback of a failed request, when its policy asks for one and there is
    something to restore (None otherwise)."""
    request = RemediationRequest.objects.select_related("policy").get(pk=request_id)
    policy = request.policy
    touched = request.steps.filter(status__in=[StepStatus.APPLIED, StepStatus.FAILED])
    if (
        policy is None
        or not policy.rollback_on_failed_verification
        or not strategies.get(request.strategy).undone_when_failed
        or not touched.exists()
        or not ObjectSnapshot.objects.filter(request_id=request.pk).exists()
    ):
        return None
    findings = [s.finding for s in touched.select_related("finding") if s.finding is not None]
    return requests.request_remediation(
        findings,
        RemediationStrategy.ROLLBACK,
        None,
        reason=f"request #{request.pk} did not verify",
        trigger=RequestTrigger.VERIFICATION,
        approvals_required=0,
        rollback_of=request,
    )
