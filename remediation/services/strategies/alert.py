"""Alert: changes nothing; publishes `remediation.alert` for notifications and ticketing.

Nothing reaches the cluster, so an alert needs no approval and has nothing to verify.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from drift.models import Finding
from driftcontrol.outbox import publish
from remediation.models import RemediationStep, RequestStatus, StepAction, StepStatus
from remediation.services.live import LiveCluster
from remediation.services.planning import Plan, PlannedStep, key_of
from remediation.services.strategies.base import Strategy
from remediation.services.transitions import finish, payload


class Alert(Strategy):
    """Tell people about the drift; leave the objects as they are."""

    changes_objects = False

    def plan(self, findings: list[Finding]) -> Plan:
        return Plan(
            "", [PlannedStep(f, f.api_version, key_of(f), StepAction.NOTIFY) for f in findings]
        )

    def apply(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> dict[str, Any] | None:
        return live  # an alert changes no object

    def differs(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> list[str]:
        return []  # nothing was changed, so nothing can differ from the plan

    def succeed(self, steps: list[RemediationStep], cluster: LiveCluster) -> None:
        request = self.request
        publish("remediation.alert", payload(request, reason=request.reason))
        RemediationStep.objects.filter(request=request).update(
            status=StepStatus.APPLIED, applied_at=timezone.now()
        )
        finish(request, RequestStatus.SUCCEEDED, "alert sent", {"alerted": True})
