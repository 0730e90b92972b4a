"""The interface every remediation strategy offers to planning and execution.

A strategy decides three things: what each object becomes (its plan, made by a server-side
dry run), how one step is applied, and what a verified result means. The request services
and the executor only talk to this interface, so a new strategy is a module of its own and
a line in the registry (`strategies/__init__.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from drift.models import Finding
from remediation.models import RemediationRequest, RemediationStep
from remediation.services.live import LiveCluster
from remediation.services.planning import Plan


class Strategy(ABC):
    """How one request remediates its findings.

    An instance serves one request, for its plan or for one execution, so what it reads
    once per run (what Git declares, say) can be kept on it.
    """

    # A strategy that changes no object needs no approval, and executing it applies and
    # verifies nothing: `succeed` is all there is to it.
    changes_objects: ClassVar[bool] = True
    # A failed result is undone by an automatic rollback when the policy asks for one; a
    # rollback that fails is not rolled back in turn.
    undone_when_failed: ClassVar[bool] = True

    def __init__(self, request: RemediationRequest) -> None:
        self.request = request

    @abstractmethod
    def plan(self, findings: list[Finding]) -> Plan:
        """The steps over ``findings``, dry-run against the cluster (raises PlanError)."""

    @abstractmethod
    def apply(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> dict[str, Any] | None:
        """Make the step's change to its object (``live`` as read just before); the object
        as the cluster returned it, None when it is gone. Raises kube.KubeError."""

    @abstractmethod
    def differs(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> list[str]:
        """Empty when the object is as the step wants it; otherwise what still differs."""

    @abstractmethod
    def succeed(self, steps: list[RemediationStep], cluster: LiveCluster) -> None:
        """Every object verified (or there was nothing to verify): finish the request."""
