"""Executing approved requests: claim, check the bases, apply object by object, verify.

At most one worker executes a request at a time: it holds a lease it renews after every
object. A worker that dies leaves an expiring lease; another one (woken by `resume_due`)
takes over and resumes after the last object recorded as applied. An object caught in the
middle (marked applying) is re-read first: if it is already as planned, it is not applied
a second time.

What a step does to its object, and what "as planned" means, is the request's strategy's
to say (`strategies/`); this module only runs the steps in order and records them.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from drift import kube
from drift.engine.windows import is_open
from drift.models import ObjectSnapshot, SnapshotReason
from drift.services import snapshots
from driftcontrol import audit, queue
from remediation.models import RemediationRequest, RemediationStep, RequestStatus, StepStatus
from remediation.services import replanning, rollbacks, strategies, verification
from remediation.services.live import LiveCluster
from remediation.services.planning import PlanError, base_digest
from remediation.services.transitions import EXECUTE, finish

log = logging.getLogger(__name__)


# A guarded write retried this many times at most: each retry needs another writer to win
# the window between our read and our write, so three losses in a row mean a fight.
OPTIMISTIC_RETRIES = 3


def _lost_a_race(conflict: kube.Conflict) -> bool:
    """A 409 for a stale resourceVersion (the API server's optimistic-lock message), not a
    field-manager conflict, which no retry resolves."""
    return "the object has been modified" in str(conflict)


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
    with transaction.atomic():  # claimed and audited together, or neither
        if not _claim(request_id, now):
            return None
        request.refresh_from_db()
        audit.record(
            "system:remediation",
            "remediation.started" if request.executions == 1 else "remediation.resumed",
            request,
            {"execution": request.executions},
        )
    try:
        _Execution(request).run()
    except (kube.KubeError, PlanError) as error:
        finish(request, RequestStatus.FAILED, str(error), {"error": str(error)})
    except Exception as error:
        log.exception("remediation request %s failed", request.pk)
        finish(
            request,
            RequestStatus.FAILED,
            f"internal error: {type(error).__name__}",
            {"error": f"{type(error).__name__}: {error}"},
        )
    request.refresh_from_db()
    return request


def _claim(request_id: int, now: Any) -> bool:
    """Take the request with a conditional UPDATE: approved, or executing by a worker whose
    lease ran out. Zero rows means another worker has it (or it is no longer due)."""
    return bool(
        RemediationRequest.objects.filter(
            Q(status=RequestStatus.APPROVED)
            | Q(status=RequestStatus.EXECUTING, lease_until__lt=now),
            pk=request_id,
        ).update(
            status=RequestStatus.EXECUTING,
            lease_until=now + lease(),
            updated_at=now,
            started_at=Coalesce(F("started_at"), now),
            executions=F("executions") + 1,
        )
    )


class _Execution:
    """One worker's run of one claimed request."""

    def __init__(self, request: RemediationRequest) -> None:
        self.request = request
        self.cluster = LiveCluster(request.cluster)
        self.strategy = strategies.for_request(request)

    def run(self) -> None:
        request = self.request
        steps = list(request.steps.order_by("position"))
        if not self.strategy.changes_objects:
            self.strategy.succeed(steps, self.cluster)
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
        if verification.verify(request, steps, self.cluster, self.strategy.differs):
            self.strategy.succeed(steps, self.cluster)
        else:
            rollbacks.roll_back_if_asked(request.pk)

    def preflight(self, steps: list[RemediationStep]) -> bool:
        """Before touching anything: is every object still what the plan was made on?"""
        for step in steps:
            if (
                step.status == StepStatus.PENDING
                and base_digest(self.cluster.read(step), step.changes) != step.base_digest
            ):
                self.send_back(step)
                return False
        return True

    def run_step(self, step: RemediationStep) -> bool:
        live = self.cluster.read(step)
        if step.status == StepStatus.APPLYING and not self.strategy.differs(
            step, live, self.cluster
        ):
            # The previous run applied it and died before recording it: not again.
            self.record(step, StepStatus.APPLIED, live, note="found applied after an interruption")
            return True
        if (
            step.status == StepStatus.PENDING
            and base_digest(live, step.changes) != step.base_digest
        ):
            self.send_back(step)
            return False
        self.snapshot_before(step, live)
        RemediationStep.objects.filter(pk=step.pk).update(
            status=StepStatus.APPLYING, attempts=F("attempts") + 1
        )
        step.status = StepStatus.APPLYING
        try:
            after = self.apply_through_races(step, live)
        except kube.KubeError as error:
            self.record(step, StepStatus.FAILED, None, error=str(error))
            finish(
                self.request,
                RequestStatus.FAILED,
                f"{step.kind} {step.name}: {error}",
                {"error": str(error), "step": step.position},
            )
            rollbacks.roll_back_if_asked(self.request.pk)
            return False
        self.record(step, StepStatus.APPLIED, after)
        return True

    def apply_through_races(
        self, step: RemediationStep, live: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """Apply the step; when a write guarded by the resourceVersion just read loses a
        race, read again and retry, as kubectl does, but only while the fields the step
        changes are still as planned. The usual winner is a controller writing status (a
        Deployment's after every change), which changes nothing we compare."""
        for attempt in range(1, OPTIMISTIC_RETRIES + 1):
            try:
                return self.strategy.apply(step, live, self.cluster)
            except kube.Conflict as conflict:
                if attempt == OPTIMISTIC_RETRIES or not _lost_a_race(conflict):
                    raise
                live = self.cluster.read(step)
                if base_digest(live, step.changes) != step.base_digest:
                    raise  # someone changed what we change: overwrite nothing
                log.info("request %s: %s changed under the write; retrying", self.request.pk, step)
        raise AssertionError("unreachable")

    def snapshot_before(self, step: RemediationStep, live: dict[str, Any] | None) -> None:
        """The object as it was before this request touched it, once: what an automatic
        rollback restores (a resumed run keeps the first one)."""
        if (
            live is None
            or ObjectSnapshot.objects.filter(
                request_id=self.request.pk, kind=step.kind, namespace=step.namespace, name=step.name
            ).exists()
        ):
            return
        snapshots.take(
            self.request.cluster,
            live,
            SnapshotReason.BEFORE_REMEDIATION,
            step.finding,
            self.request.pk,
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
        # One transaction: a worker killed between the two would leave a step applied that
        # the audit trail never mentions.
        with transaction.atomic():
            RemediationStep.objects.filter(pk=step.pk).update(
                status=status,
                result=result,
                applied_at=timezone.now() if status == StepStatus.APPLIED else None,
            )
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
        step.status = status

    def renew_lease(self) -> bool:
        return bool(
            RemediationRequest.objects.filter(
                pk=self.request.pk, status=RequestStatus.EXECUTING
            ).update(lease_until=timezone.now() + lease())
        )

    def send_back(self, step: RemediationStep) -> None:
        """Someone changed the object since the plan: overwrite nothing, ask again."""
        replanning.send_back(
            self.request,
            f"{step.kind} {step.namespace}/{step.name} changed after the plan was made",
        )


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
        queue.send(EXECUTE, request.pk)
        sent += 1
    return sent
