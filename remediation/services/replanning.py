"""Re-planning: a request whose cluster changed under it goes back for approval.

The executor finds an object that is no longer the one the plan was made on, and applies
nothing over it: the request gets a new plan (a new version; earlier approvals counted for
the old plan only) and waits for its approvers again, or runs again at once when it needs
none.

The new plan is a dry run against the cluster, so it is made before the request row is
locked: a slow or unreachable API server must not keep approvers, cancellations and the
sweeps waiting on the row. Under the lock, the request must still be the one the plan was
made for: executing by the same worker, at the same plan version, with the same findings
open. A request that moved on meanwhile (its lease ran out and another worker took it)
belongs to that worker, which finds the change again and sends it back itself.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from driftcontrol import audit
from driftcontrol.outbox import publish
from remediation.models import RemediationRequest, RequestStatus
from remediation.services import planning, strategies
from remediation.services.transitions import finish, mark_approved, payload

log = logging.getLogger(__name__)

# A scan may close or reopen one of the request's findings while it is being re-planned;
# the plan is then made again for the findings open now, this many times at most.
ATTEMPTS = 3


def send_back(request: RemediationRequest, why: str) -> None:
    """Re-plan ``request``, which this worker is executing, and send it back for approval;
    cancel it when none of its findings is open any more."""
    for _attempt in range(ATTEMPTS):
        findings = list(request.findings.open())
        # Outside any transaction: the dry run talks to the cluster.
        plan = strategies.for_request(request).plan(findings) if findings else None
        with transaction.atomic():
            locked = _locked(request)
            if not _still_executing(locked, request):
                log.info("request %s moved on while re-planning; plan dropped", request.pk)
                return
            if _open_ids(locked) != {f.pk for f in findings}:
                continue  # the plan is for findings no longer open (or not all of them)
            if plan is None:
                finish(locked, RequestStatus.CANCELLED, "nothing left to remediate: " + why, {})
            else:
                _store(locked, plan, why)
            return
    # The findings would not hold still. The request keeps its lease; once the lease runs
    # out it is resumed (`resume_due`), finds the change again and comes back here.
    log.warning("request %s: findings kept changing while re-planning", request.pk)


def _locked(request: RemediationRequest) -> RemediationRequest:
    return (
        RemediationRequest.objects.select_for_update(of=("self",))
        .select_related("cluster", "policy", "requested_by")
        .get(pk=request.pk)
    )


def _open_ids(request: RemediationRequest) -> set[int]:
    return set(request.findings.open().values_list("pk", flat=True))


def _still_executing(locked: RemediationRequest, expected: RemediationRequest) -> bool:
    """Whether the locked row is still in the state the plan was made for: this worker's
    execution (a worker taking over counts another one), of the same plan."""
    return (
        locked.status == RequestStatus.EXECUTING
        and locked.executions == expected.executions
        and locked.plan_version == expected.plan_version
    )


def _store(request: RemediationRequest, plan: planning.Plan, why: str) -> None:
    """Within the caller's transaction, with the row locked: the new plan, pending again."""
    request.plan_version += 1
    request.revision, request.plan = plan.revision, plan.summary()
    request.status, request.status_reason = RequestStatus.PENDING, why
    request.lease_until = None
    request.expires_at = timezone.now() + timedelta(
        seconds=request.policy.request_expiry_seconds if request.policy else 86400
    )
    request.save()
    planning.store(request, plan)
    audit.record(
        "system:remediation",
        "remediation.replanned",
        request,
        {"why": why, "planVersion": request.plan_version, "plan": request.plan},
    )
    publish("remediation.requested", payload(request, replanned=True, why=why))
    if request.approvals_required == 0:
        mark_approved(request, "re-planned; no approval needed at this severity")
