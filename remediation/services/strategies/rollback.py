"""Rollback: restore the last known-good state of each object.

That is the snapshot taken before a remediation touched the object (undoing a request),
the one taken when its finding opened, a snapshot named for it, or the manifests of an
earlier Git commit (`--revision`, applied as a sync to that commit). A snapshot replaces
the object whole, so it comes back exactly. Secret values are never kept, so Secrets are
not rolled back from snapshots. What was restored is pinned, so auto-remediation does not
undo the rollback.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from drift import kube
from drift.engine.normalize import ObjectKey
from drift.models import Finding, ObjectSnapshot
from drift.services import snapshots
from driftcontrol.outbox import publish
from remediation.models import RemediationRequest, RemediationStep, RequestStatus, StepAction
from remediation.services import pins
from remediation.services.live import LiveCluster
from remediation.services.planning import (
    Plan,
    PlanError,
    PlannedStep,
    dry_run_step,
    key_of,
    refusal,
    served,
    step_key,
)
from remediation.services.strategies import declared
from remediation.services.strategies.base import Strategy
from remediation.services.transitions import finish, payload


class Rollback(Strategy):
    """Bring each object back to an earlier state."""

    undone_when_failed = False  # undoing a failed rollback would loop

    def __init__(self, request: RemediationRequest) -> None:
        super().__init__(request)
        self.declared = declared.Declared(request)

    def plan(self, findings: list[Finding]) -> Plan:
        cluster = LiveCluster.to_plan(self.request.cluster)
        target = self.request.target or {}
        if target.get("revision"):
            return declared.plan(self.request, findings, cluster, target["revision"])
        chosen = target.get("snapshots") or {}
        return Plan("", [self._restore(f, cluster, chosen.get(str(f.pk))) for f in findings])

    def _restore(self, finding: Finding, cluster: LiveCluster, chosen: int | None) -> PlannedStep:
        key = key_of(finding)
        snapshot = self._snapshot_for(finding, key, chosen)
        if snapshot.redacted:
            raise PlanError(
                f"{key} is a Secret: its values are never kept, so it cannot be "
                "rolled back from a snapshot; restore it from its source"
            )
        resource = served(cluster.discovery, snapshot.api_version, key.kind)
        live = cluster.connection.get(resource, key.namespace or None, key.name)
        manifest = restorable(snapshot, live)
        try:
            planned = (
                cluster.connection.replace(resource, manifest, dry_run=True)
                if live is not None
                else cluster.connection.create(resource, manifest, dry_run=True)
            )
        except kube.KubeError as error:
            raise refusal(f"restoring {key}", error, cluster.cluster.name) from None
        return dry_run_step(
            finding,
            snapshot.api_version,
            key,
            StepAction.RESTORE,
            f"snapshot:{snapshot.pk}",
            live,
            planned,
        )

    def _snapshot_for(self, finding: Finding, key: ObjectKey, chosen: int | None) -> ObjectSnapshot:
        request = self.request
        same_object = {
            "api_group": key.group,
            "kind": key.kind,
            "namespace": key.namespace,
            "name": key.name,
        }
        if chosen is not None:
            found = ObjectSnapshot.objects.filter(
                pk=chosen, cluster=request.cluster, **same_object
            ).first()
            if found is None:
                raise PlanError(f"snapshot {chosen} is not a snapshot of {key}")
            return found
        if request.rollback_of_id is not None:
            # Undoing a remediation: the state just before it touched the object.
            found = (
                ObjectSnapshot.objects.filter(request_id=request.rollback_of_id, **same_object)
                .order_by("-taken_at")
                .first()
            )
            if found is not None:
                return found
        found = snapshots.latest(request.cluster, key, ("before-remediation", "finding-opened"))
        if found is None:
            raise PlanError(f"no snapshot of {key} to roll back to")
        return found

    def apply(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> dict[str, Any] | None:
        if step.action != StepAction.RESTORE:
            return self.declared.apply(step, live, cluster)  # to an earlier commit
        resource = cluster.resource(step)
        manifest = restorable(_snapshot(step), live)
        return (
            cluster.connection.replace(resource, manifest)
            if live is not None
            else cluster.connection.create(resource, manifest)
        )

    def differs(
        self, step: RemediationStep, live: dict[str, Any] | None, cluster: LiveCluster
    ) -> list[str]:
        if step.action != StepAction.RESTORE:
            return self.declared.differs(step, live, cluster)
        if live is None:
            return ["the object does not exist"]
        if snapshots.digest(live) == snapshots.digest(_snapshot(step).manifest):
            return []
        return ["the object differs from the snapshot it was restored to"]

    def succeed(self, steps: list[RemediationStep], cluster: LiveCluster) -> None:
        """Restored and verified: pin every object, and mark the request undone as rolled
        back, together."""
        request = self.request
        keys = [step_key(step) for step in steps]
        digests = pins.declared_digests(request.policy, cluster.discovery, keys)
        why = f"rolled back by request #{request.pk}"
        with transaction.atomic():
            for key in keys:
                pins.pin(request.cluster, key, why, request.requested_by, digests[key])
            finish(request, RequestStatus.SUCCEEDED, "restored and verified", {"verified": True})
            if request.rollback_of_id is not None:
                RemediationRequest.objects.filter(pk=request.rollback_of_id).update(
                    status=RequestStatus.ROLLED_BACK, status_reason=why, updated_at=timezone.now()
                )
            publish("remediation.rolled_back", payload(request, rollback_of=request.rollback_of_id))


def restorable(snapshot: ObjectSnapshot, live: dict[str, Any] | None) -> dict[str, Any]:
    """The snapshot as a PUT body: guarded by the live resourceVersion when there is one."""
    manifest = {**snapshot.manifest, "metadata": dict(snapshot.manifest.get("metadata") or {})}
    if live is not None:
        manifest["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    return manifest


def _snapshot(step: RemediationStep) -> ObjectSnapshot:
    """The snapshot a restore step was planned from (its source is `snapshot:<id>`)."""
    return ObjectSnapshot.objects.get(pk=int(step.source.split(":")[1]))
