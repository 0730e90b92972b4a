"""Sync: server-side apply of the objects as Git declares them.

Missing objects are created; unmanaged ones are deleted only when the policy prunes. Once
every object verifies, the drift is gone and the request's findings resolve.
"""

from __future__ import annotations

from typing import Any

from drift.models import Finding
from remediation.models import RemediationRequest, RemediationStep, RequestStatus
from remediation.services.live import LiveCluster
from remediation.services.planning import Plan
from remediation.services.strategies import declared
from remediation.services.strategies.base import Strategy
from remediation.services.transitions import finish
from remediation.services.verification import resolve_findings


class Sync(Strategy):
    """Put each object back as Git declares it."""

    def __init__(self, request: RemediationRequest) -> None:
        super().__init__(request)
        self.declared = declared.Declared(request)

    def plan(self, findings: list[Finding]) -> Plan:
        cluster = LiveCluster.to_plan(self.request.cluster)
        revision = (self.request.target or {}).get("revision")
        return declared.plan(self.request, findings, cluster, revision)

    def apply(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> dict[str, Any] | None:
        return self.declared.apply(step, live, cluster)

    def differs(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> list[str]:
        return self.declared.differs(step, live, cluster)

    def succeed(self, steps: list[RemediationStep], cluster: LiveCluster) -> None:
        resolve_findings(self.request, steps)
        finish(self.request, RequestStatus.SUCCEEDED, "applied and verified", {"verified": True})
