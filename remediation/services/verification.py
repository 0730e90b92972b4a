"""Verification: once the last object is applied, re-read every object and compare again.

What "as planned" means is the strategy's to say (its `differs`); a request succeeds only
when every object passes, and keeps passing for REMEDIATION_VERIFY_SECONDS: an operator
that owns a field puts its own value back within moments, and a result read before it
did so would be called verified wrongly. A sync that verifies has removed the drift, so
its findings resolve at once instead of at the next scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from drift.services import ledger
from remediation.models import RemediationRequest, RemediationStep, RequestStatus, StepStatus
from remediation.services.live import LiveCluster
from remediation.services.planning import step_key
from remediation.services.transitions import finish

# A strategy's measure of one object: what still differs from the step (empty: nothing).
Differs = Callable[[RemediationStep, dict[str, Any] | None, LiveCluster], list[str]]
# How often the objects are read again while the result must hold.
POLL_SECONDS = 0.5


def verify(
    request: RemediationRequest,
    steps: list[RemediationStep],
    cluster: LiveCluster,
    differs: Differs,
) -> bool:
    """Whether every object is as its step wants it, and stays so while the result must
    hold; if not, the request fails with what differs, object by object."""
    deadline = time.monotonic() + settings.REMEDIATION_VERIFY_SECONDS
    remaining = _remaining(steps, cluster, differs)
    while not remaining and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        remaining = _remaining(steps, cluster, differs)
    if remaining:
        finish(
            request,
            RequestStatus.FAILED,
            "the result does not verify",
            {"verified": False, "remaining": remaining},
        )
        return False
    return True


def _remaining(
    steps: list[RemediationStep], cluster: LiveCluster, differs: Differs
) -> dict[str, list[str]]:
    remaining = {}
    for step in steps:
        if step.status == StepStatus.SKIPPED:
            continue  # planned as already right, and not touched
        found = differs(step, cluster.read(step), cluster)
        if found:
            remaining[f"{step.kind} {step.namespace}/{step.name}"] = found
    return remaining


def resolve_findings(request: RemediationRequest, steps: list[RemediationStep]) -> None:
    """The drift is gone and verified: its findings resolve now, not at the next scan."""
    keys = {step_key(step) for step in steps}
    assert request.policy is not None
    ledger.record(
        request.policy,
        request.cluster,
        [],
        known=lambda key: key in keys,
        actor="system:remediation",
        resolve_scope=keys,
        reason=f"remediated by request #{request.pk} ({request.strategy}), verified on the cluster",
    )
