"""Executing approved requests: claim, check the bases, apply object by object, verify.

At most one worker executes a request at a time: it holds a lease it renews after every
object. A worker that dies leaves an expiring lease; another one (woken by `resume_due`)
takes over and resumes after the last object recorded as applied. An object caught in the
middle (marked applying) is re-read first: if it is already as planned, it is not applied
a second time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from drift import kube
from drift.engine.compare import compare
from drift.engine.normalize import DesiredObject, ObjectKey
from drift.engine.windows import is_open
from drift.models import ObjectSnapshot, RemediationStrategy, SnapshotReason
from drift.services import clusters, desired, evidence, ledger, snapshots
from drift.services.desired import secret_hasher
from driftcontrol import audit, queue
from driftcontrol.outbox import publish
from remediation.models import (
    RemediationRequest,
    RemediationStep,
    RequestStatus,
    RequestTrigger,
    StepAction,
    StepStatus,
)
from remediation.services import pins, planning, requests

log = logging.getLogger(__name__)


def lease() -> timedelta:
    return timedelta(seconds=settings.REMEDIATION_LEASE_SECONDS)


def execute(request_id: int) -> RemediationRequest | None:
    """Run an approved request (or resume one whose worker died); None if not ours to run."""
    request = (
        RemediationRequest.objects.select_related("policy", "cluster").filter(pk=request_id).first()
    )
    if request is None:
        return None
    now = timezone.now()
    if (
        request.status == RequestStatus.APPROVED
        and request.policy is not None
        and not is_open(request.policy.change_windows, now)
    ):
        return None  # waits for its change window; resume_due sends it when it opens
    claimed = RemediationRequest.objects.filter(
        Q(status=RequestStatus.APPROVED) | Q(status=RequestStatus.EXECUTING, lease_until__lt=now),
        pk=request_id,
    ).update(
        status=RequestStatus.EXECUTING,
        lease_until=now + lease(),
        started_at=Coalesce(F("started_at"), now),
        executions=F("executions") + 1,
    )
    if not claimed:
        return None
    request.refresh_from_db()
    audit.record(
        "system:remediation",
        "remediation.started" if request.executions == 1 else "remediation.resumed",
        request,
        {"execution": request.executions},
    )
    try:
        _Executor(request).run()
    except (kube.KubeError, planning.PlanError) as error:
        _finish(request, RequestStatus.FAILED, str(error), {"error": str(error)})
    except Exception as error:
        log.exception("remediation request %s failed", request.pk)
        _finish(
            request,
            RequestStatus.FAILED,
            f"internal error: {type(error).__name__}",
            {"error": f"{type(error).__name__}: {error}"},
        )
    request.refresh_from_db()
    return request


@dataclass
class _Target:
    """What an object should look like once its step ran, to verify it."""

    declared: DesiredObject | None = None
    ignores: tuple[str, ...] = ()
    snapshot: ObjectSnapshot | None = None


class _Executor:
    def __init__(self, request: RemediationRequest) -> None:
        self.request = request
        self.connection = clusters.connect(request.cluster)
        self.discovery = self.connection.discover()
        self._desired: desired.DesiredState | None = None
        self._targets: set[ObjectKey] = set()

    # --- what each object should become -----------------------------------------------

    def desired_state(self) -> desired.DesiredState:
        if self._desired is None:
            policy = self.request.policy
            assert policy is not None
            source = policy.source
            self._desired = desired.for_cluster(
                desired.read_at(source, self.request.revision),
                policy,
                self.discovery,
                secret_hasher(),
            )
            self._targets = evidence.hpa_targets(self._desired, evidence.LiveState())
        return self._desired

    def target(self, step: RemediationStep) -> _Target:
        key = ObjectKey(_group(step.api_version), step.kind, step.namespace, step.name)
        if step.action in (StepAction.APPLY, StepAction.CREATE):
            state = self.desired_state()
            return _Target(
                declared=state.objects[key],
                ignores=("/spec/replicas",) if key in self._targets else (),
            )
        if step.action == StepAction.RESTORE:
            return _Target(snapshot=ObjectSnapshot.objects.get(pk=int(step.source.split(":")[1])))
        return _Target()

    def resource(self, step: RemediationStep) -> kube.Resource:
        found = self.discovery.find(step.api_version, step.kind)
        if found is None:
            raise kube.KubeError(f"the cluster no longer serves {step.kind} ({step.api_version})")
        return found

    def live(self, step: RemediationStep) -> dict[str, Any] | None:
        return self.connection.get(self.resource(step), step.namespace or None, step.name)

    def as_planned(self, step: RemediationStep, live: dict[str, Any] | None) -> list[str]:
        """Empty when the object is as the step wants it; otherwise what still differs."""
        if step.action == StepAction.DELETE:
            return [] if live is None else ["the object still exists"]
        if live is None:
            return ["the object does not exist"]
        target = self.target(step)
        if target.snapshot is not None:
            return (
                []
                if snapshots.digest(live) == snapshots.digest(target.snapshot.manifest)
                else ["the object differs from the snapshot it was restored to"]
            )
        if target.declared is not None:
            policy = self.request.policy
            assert policy is not None
            drift = compare(
                target.declared,
                live,
                evidence.engine_policy(policy),
                secret_hasher(),
                target.ignores,
            )
            return [] if drift is None else drift.paths
        return []

    # --- the run ----------------------------------------------------------------------

    def run(self) -> None:
        request = self.request
        steps = list(request.steps.order_by("position"))
        if request.strategy == RemediationStrategy.ALERT:
            publish("remediation.alert", requests.payload(request, reason=request.reason))
            RemediationStep.objects.filter(request=request).update(
                status=StepStatus.APPLIED, applied_at=timezone.now()
            )
            _finish(request, RequestStatus.SUCCEEDED, "alert sent", {"alerted": True})
            return
        if request.executions == 1 and not self.preflight(steps):
            return
        for step in steps:
            if step.status in (StepStatus.APPLIED, StepStatus.SKIPPED):
                continue
            if not self.renew_lease():
                log.warning("request %s: lease lost; another worker took over", request.pk)
                return
            if not self.run_step(step):
                return
            if settings.REMEDIATION_PAUSE_SECONDS:
                time.sleep(settings.REMEDIATION_PAUSE_SECONDS)
        self.verify(steps)

    def preflight(self, steps: list[RemediationStep]) -> bool:
        """Before touching anything: is every object still what the plan was made on?"""
        for step in steps:
            if (
                step.status == StepStatus.PENDING
                and snapshots.digest(self.live(step)) != step.base_digest
            ):
                self.send_back(
                    f"{step.kind} {step.namespace}/{step.name} changed after the plan was made"
                )
                return False
        return True

    def run_step(self, step: RemediationStep) -> bool:
        live = self.live(step)
        if step.status == StepStatus.APPLYING and not self.as_planned(step, live):
            # The previous run applied it and died before recording it: not again.
            self.record(step, StepStatus.APPLIED, live, note="found applied after an interruption")
            return True
        if step.status == StepStatus.PENDING and snapshots.digest(live) != step.base_digest:
            self.send_back(
                f"{step.kind} {step.namespace}/{step.name} changed after the plan was made"
            )
            return False
        if (
            live is not None
            and not ObjectSnapshot.objects.filter(
                request_id=self.request.pk, kind=step.kind, namespace=step.namespace, name=step.name
            ).exists()
        ):
            snapshots.take(
                self.request.cluster,
                live,
                SnapshotReason.BEFORE_REMEDIATION,
                step.finding,
                self.request.pk,
            )
        RemediationStep.objects.filter(pk=step.pk).update(
            status=StepStatus.APPLYING, attempts=F("attempts") + 1
        )
        step.status = StepStatus.APPLYING
        try:
            after = self.perform(step, live)
        except kube.KubeError as error:
            self.record(step, StepStatus.FAILED, None, error=str(error))
            _finish(
                self.request,
                RequestStatus.FAILED,
                f"{step.kind} {step.name}: {error}",
                {"error": str(error), "step": step.position},
            )
            self.roll_back_if_asked()
            return False
        self.record(step, StepStatus.APPLIED, after)
        return True

    def perform(self, step: RemediationStep, live: dict[str, Any] | None) -> dict[str, Any] | None:
        resource = self.resource(step)
        if step.action in (StepAction.APPLY, StepAction.CREATE):
            declared = self.target(step).declared
            assert declared is not None
            return self.connection.apply(
                resource, declared.manifest, planning.FIELD_MANAGER, force=True
            )
        if step.action == StepAction.DELETE:
            if live is not None:
                self.connection.delete(
                    resource,
                    step.namespace or None,
                    step.name,
                    resource_version=step.base_resource_version,
                )
            return None
        snapshot = self.target(step).snapshot
        assert snapshot is not None
        manifest = planning.restorable(snapshot, live)
        return (
            self.connection.replace(resource, manifest)
            if live is not None
            else self.connection.create(resource, manifest)
        )

    def record(
        self,
        step: RemediationStep,
        status: str,
        obj: dict[str, Any] | None,
        note: str = "",
        error: str = "",
    ) -> None:
        metadata = (obj or {}).get("metadata") or {}
        result = {
            "resourceVersion": metadata.get("resourceVersion", ""),
            "generation": metadata.get("generation"),
        }
        if note:
            result["note"] = note
        if error:
            result["error"] = error
        RemediationStep.objects.filter(pk=step.pk).update(
            status=status,
            result=result,
            applied_at=timezone.now() if status == StepStatus.APPLIED else None,
        )
        step.status = status
        audit.record(
            "system:remediation",
            f"remediation.step_{status}",
            self.request,
            {
                "step": step.position,
                "object": f"{step.kind} {step.namespace}/{step.name}",
                **result,
            },
        )

    def renew_lease(self) -> bool:
        return bool(
            RemediationRequest.objects.filter(
                pk=self.request.pk, status=RequestStatus.EXECUTING
            ).update(lease_until=timezone.now() + lease())
        )

    def send_back(self, why: str) -> None:
        with transaction.atomic():
            request = RemediationRequest.objects.select_for_update().get(pk=self.request.pk)
            findings = list(request.findings.open())
            if not findings:
                _finish(request, RequestStatus.CANCELLED, "nothing left to remediate: " + why, {})
                return
            requests.send_back(request, why, findings)

    # --- verification -------------------------------------------------------------------

    def verify(self, steps: list[RemediationStep]) -> None:
        remaining = {}
        for step in steps:
            if step.status == StepStatus.SKIPPED and step.action != StepAction.RESTORE:
                continue
            differs = self.as_planned(step, self.live(step))
            if differs:
                remaining[f"{step.kind} {step.namespace}/{step.name}"] = differs
        if remaining:
            _finish(
                self.request,
                RequestStatus.FAILED,
                "the result does not verify",
                {"verified": False, "remaining": remaining},
            )
            self.roll_back_if_asked()
            return
        if self.request.strategy == RemediationStrategy.ROLLBACK:
            self.rolled_back(steps)
        else:
            self.resolve(steps)
            _finish(
                self.request, RequestStatus.SUCCEEDED, "applied and verified", {"verified": True}
            )

    def resolve(self, steps: list[RemediationStep]) -> None:
        """The drift is gone and verified: its findings resolve now, not at the next scan."""
        request = self.request
        keys = {ObjectKey(_group(s.api_version), s.kind, s.namespace, s.name) for s in steps}
        assert request.policy is not None
        ledger.record(
            request.policy,
            request.cluster,
            [],
            known=lambda key: key in keys,
            actor="system:remediation",
            resolve_scope=keys,
        )

    def rolled_back(self, steps: list[RemediationStep]) -> None:
        """Pin what was restored, so auto-remediation does not undo the rollback."""
        request = self.request
        with transaction.atomic():
            for step in steps:
                key = ObjectKey(_group(step.api_version), step.kind, step.namespace, step.name)
                pins.pin(
                    request.cluster,
                    key,
                    f"rolled back by request #{request.pk}",
                    request.requested_by,
                    self.desired_digest(key),
                )
            _finish(request, RequestStatus.SUCCEEDED, "restored and verified", {"verified": True})
            if request.rollback_of_id is not None:
                RemediationRequest.objects.filter(pk=request.rollback_of_id).update(
                    status=RequestStatus.ROLLED_BACK,
                    status_reason=f"rolled back by request #{request.pk}",
                )
            publish(
                "remediation.rolled_back",
                requests.payload(request, rollbackOf=request.rollback_of_id),
            )

    def desired_digest(self, key: ObjectKey) -> str:
        if self.request.policy is None:
            return ""
        try:
            declared = desired.for_cluster(
                desired.read_revision(self.request.policy.source),
                self.request.policy,
                self.discovery,
                secret_hasher(),
            ).objects.get(key)
        except Exception:  # Git unreachable: the pin then lasts until someone unpins it
            return ""
        return pins.desired_digest(declared)

    def roll_back_if_asked(self) -> None:
        """A failed result is undone automatically when the policy says so."""
        request = RemediationRequest.objects.select_related("policy").get(pk=self.request.pk)
        policy = request.policy
        touched = request.steps.filter(status__in=[StepStatus.APPLIED, StepStatus.FAILED])
        if (
            policy is None
            or not policy.rollback_on_failed_verification
            or request.strategy == RemediationStrategy.ROLLBACK
            or not touched.exists()
            or not ObjectSnapshot.objects.filter(request_id=request.pk).exists()
        ):
            return
        findings = [s.finding for s in touched if s.finding is not None]
        requests.request_remediation(
            findings,
            RemediationStrategy.ROLLBACK,
            None,
            reason=f"request #{request.pk} did not verify",
            trigger=RequestTrigger.VERIFICATION,
            approvals_required=0,
            rollback_of=request,
        )


def _finish(request: RemediationRequest, status: str, reason: str, result: dict[str, Any]) -> None:
    with transaction.atomic():
        RemediationRequest.objects.filter(pk=request.pk).update(
            status=status,
            status_reason=reason[:2000],
            result=result,
            finished_at=timezone.now(),
            lease_until=None,
        )
        request.refresh_from_db()
        audit.record(
            "system:remediation", f"remediation.{status}", request, {"reason": reason, **result}
        )
        if status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
            publish(
                f"remediation.{status}", requests.payload(request, reason=reason, result=result)
            )


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def resume_due() -> int:
    """Send what should run now: approved requests whose window is open, and executing
    ones whose worker's lease expired (a beat task)."""
    now = timezone.now()
    sent = 0
    for request in RemediationRequest.objects.select_related("policy").filter(
        Q(status=RequestStatus.APPROVED) | Q(status=RequestStatus.EXECUTING, lease_until__lt=now)
    ):
        if request.status == RequestStatus.APPROVED:
            windows = request.policy.change_windows if request.policy is not None else []
            if windows and not is_open(windows, now):
                continue
            # Approval queued it already; only a lost message or an opened window needs us.
            if (
                not windows
                and request.approved_at
                and now - request.approved_at < timedelta(minutes=1)
            ):
                continue
        queue.send(requests.EXECUTE, request.pk)
        sent += 1
    return sent
