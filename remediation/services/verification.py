"""Verification: once the last object is applied, re-read every object and compare again.

What "as planned" means is the strategy's to say (its `differs`); a request succeeds only
when every object passes. A sync that verifies has removed the drift, so its findings
resolve at once instead of at the next scan.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drift.services import ledger
from remediation.models import RemediationRequest, RemediationStep, RequestStatus, StepStatus
from remediation.services.live import LiveCluster
from remediation.services.planning import step_key
from remediation.services.transitions import finish

# A strategy's measure of one object: what still differs from the step (empty: nothing).
Differs = Callable[[RemediationStep, dict[str, Any] | None, LiveCluster], list[str]]


def verify(
    request: RemediationRequest,
    steps: list[RemediationStep],
    cluster: LiveCluster,
    differs: Differs,
) -> bool:
    """Whether every object is now as its step wants it; if not, the request fails with
    what still differs, object by object."""
    remaining = {}
    for step in steps:
        if step.status == StepStatus.SKIPPED:
            continue  # planned as already right, and not touched
        found = differs(step, cluster.read(step), cluster)
        if found:
            remaining[f"{step.kind} {step.namespace}/{step.name}"] = found
    if remaining:
        finish(
            request,
            RequestStatus.FAILED,
            "the result does not verify",
            {"verified": False, "remaining": remaining},
        )
        return False
    return True


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
    )
