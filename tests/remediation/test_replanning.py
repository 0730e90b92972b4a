"""Sending a request back for approval when its cluster changed: the dry run happens with
no lock held, and the plan is stored only for the state it was made for."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from drift.models import Finding, FindingStatus
from driftcontrol.models import AuditEvent, OutboxEvent
from remediation.models import RemediationRequest, RequestStatus, StepAction
from remediation.services import replanning
from remediation.services.planning import Plan, PlannedStep, key_of
from remediation.services.strategies.sync import Sync
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db
WHY = "Deployment shop/web changed after the plan was made"


@pytest.fixture
def executing(requester):
    """A sync a worker is executing (its first run), over two open findings."""
    policy = DriftPolicyFactory()
    cluster = ClusterFactory()
    request = RemediationRequest.objects.create(
        cluster=cluster,
        policy=policy,
        strategy="sync",
        severity="high",
        requested_by=requester,
        approvals_required=1,
        status=RequestStatus.EXECUTING,
        executions=1,
        lease_until=timezone.now() + timedelta(minutes=1),
    )
    request.findings.add(*(FindingFactory(cluster=cluster, policy=policy) for _ in range(2)))
    return request


class Planner:
    """Stands in for the dry run: plans each finding asked, and runs `during` meanwhile."""

    def __init__(self):
        self.calls = []
        self.during = lambda: None

    def plan(self, findings):
        self.calls.append({f.pk for f in findings})
        self.during()
        steps = [PlannedStep(f, "apps/v1", key_of(f), StepAction.APPLY) for f in findings]
        return Plan("c0ffee", steps)


@pytest.fixture
def planned(monkeypatch):
    planner = Planner()
    monkeypatch.setattr(Sync, "plan", lambda strategy, findings: planner.plan(findings))
    return planner


def test_a_changed_request_goes_back_for_approval_with_a_new_plan(executing, planned):
    replanning.send_back(executing, WHY)

    executing.refresh_from_db()
    assert (executing.status, executing.plan_version, executing.status_reason) == (
        RequestStatus.PENDING,
        2,
        WHY,
    )
    assert (executing.revision, executing.lease_until, executing.steps.count()) == (
        "c0ffee",
        None,
        2,
    )
    assert AuditEvent.objects.filter(action="remediation.replanned").count() == 1
    [event] = OutboxEvent.objects.filter(event_type="remediation.requested")
    assert event.payload["replanned"] is True


def test_a_request_needing_no_approval_runs_again_once(
    executing, planned, tasks, django_capture_on_commit_callbacks
):
    RemediationRequest.objects.filter(pk=executing.pk).update(approvals_required=0)
    executing.refresh_from_db()
    queued = tasks.queued("remediation.execute")

    with django_capture_on_commit_callbacks(execute=True):
        replanning.send_back(executing, WHY)

    executing.refresh_from_db()
    assert (executing.status, executing.plan_version, queued) == (
        RequestStatus.APPROVED,
        2,
        [executing.pk],
    )


def test_a_request_another_worker_took_over_meanwhile_keeps_its_plan(executing, planned):
    # The lease ran out during a slow dry run, and another worker claimed the request.
    planned.during = lambda: RemediationRequest.objects.filter(pk=executing.pk).update(
        executions=F("executions") + 1
    )

    replanning.send_back(executing, WHY)

    executing.refresh_from_db()
    assert (executing.status, executing.plan_version, executing.executions) == (
        RequestStatus.EXECUTING,
        1,
        2,
    )
    assert not executing.steps.exists()
    assert not AuditEvent.objects.filter(action="remediation.replanned").exists()


def test_a_finding_closed_during_the_dry_run_is_planned_again_without_it(executing, planned):
    first, second = executing.findings.order_by("pk")

    def close_second():
        planned.during = lambda: None
        Finding.objects.filter(pk=second.pk).update(status=FindingStatus.RESOLVED)

    planned.during = close_second

    replanning.send_back(executing, WHY)

    assert planned.calls == [{first.pk, second.pk}, {first.pk}]
    executing.refresh_from_db()
    assert executing.status == RequestStatus.PENDING
    assert [s.finding_id for s in executing.steps.all()] == [first.pk]


def test_a_request_with_no_open_finding_left_is_cancelled(executing, planned):
    executing.findings.update(status=FindingStatus.RESOLVED)

    replanning.send_back(executing, WHY)

    executing.refresh_from_db()
    assert (executing.status, executing.status_reason) == (
        RequestStatus.CANCELLED,
        f"nothing left to remediate: {WHY}",
    )
    assert planned.calls == []


@pytest.mark.django_db(transaction=True)
def test_no_lock_on_the_request_is_held_while_the_dry_run_talks_to_the_cluster(executing, planned):
    outcome = []

    def lock_from_another_transaction():
        try:
            with transaction.atomic():
                RemediationRequest.objects.select_for_update(nowait=True).get(pk=executing.pk)
            outcome.append("locked")
        except DatabaseError as error:
            outcome.append(f"busy: {error}")
        finally:
            connection.close()

    def approver_meanwhile():
        other = threading.Thread(target=lock_from_another_transaction)
        other.start()
        other.join()

    planned.during = approver_meanwhile

    replanning.send_back(executing, WHY)

    assert outcome == ["locked"]
    executing.refresh_from_db()
    assert executing.status == RequestStatus.PENDING


def test_a_replica_count_the_step_leaves_alone_does_not_change_its_base():
    from remediation.services.planning import base_digest

    live = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "resourceVersion": "7"},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": "a"}]}}},
    }
    scaled = {**live, "spec": {**live["spec"], "replicas": 2}}  # an autoscaler's doing
    edited = {**live, "spec": {**live["spec"], "template": {"spec": {"containers": []}}}}
    image = [{"path": "/spec/template/spec/containers/0/image", "live": "b", "planned": "a"}]
    replicas = [{"path": "/spec/replicas", "live": 1, "planned": 3}]

    assert base_digest(scaled, image) == base_digest(live, image)
    assert base_digest(edited, image) != base_digest(live, image)
    assert base_digest(scaled, replicas) != base_digest(live, replicas)
