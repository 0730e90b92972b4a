"""A worker killed with SIGKILL in the middle of a multi-object sync: another one resumes,
every object is applied once, and the audit log tells the story."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from kubernetes import client

from drift.models import Finding
from driftcontrol.celery import app
from driftcontrol.models import AuditEvent
from remediation import services
from remediation.models import RemediationRequest, RequestStatus, StepStatus
from tests.celery_worker import WorkerProcess
from tests.integration.conftest import apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.celery, pytest.mark.django_db(transaction=True)]
TARGETS = ("web", "api", "frontend", "emailservice")


def other_broker() -> str:
    """A Redis database of this test's own: no other worker may take its messages."""
    base = settings.CELERY_BROKER_URL.rsplit("/", 1)[0]
    return f"{base}/15"


def wait(probe, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def settled(read, quiet=1.0):
    """read()'s value once it has stayed the same for `quiet` seconds."""
    value = read()
    while True:
        time.sleep(quiet)
        again = read()
        if again == value:
            return value
        value = again


def generations(devcluster, namespace):
    with devcluster.client() as api:
        apps = client.AppsV1Api(api)
        return {
            name: apps.read_namespaced_deployment(name, namespace).metadata.generation
            for name in TARGETS
        }


def test_a_killed_worker_leaves_a_request_another_one_completes(
    devcluster,
    shop_repo,
    shop_policy,
    scanner_cluster,
    kube_namespace,
    requester,
    approver,
    tmp_path,
    tasks,
):
    broker = other_broker()
    redis.Redis.from_url(broker).flushdb()
    apply_shop(devcluster, shop_repo, kube_namespace)
    for name in TARGETS:
        container = {"web": "web", "api": "api", "frontend": "server", "emailservice": "server"}[
            name
        ]
        devcluster.kubectl(
            "set",
            "image",
            "-n",
            kube_namespace,
            f"deployment/{name}",
            f"{container}=evil.example/{name}:6",
        )
    scan(shop_policy, scanner_cluster)
    drifted = list(Finding.objects.open().filter(name__in=TARGETS))
    assert len(drifted) == len(TARGETS)
    before = generations(devcluster, kube_namespace)

    # Approving queues the execution on the broker the test process uses; this test sends
    # it to its own instead.
    with app.connection_for_write(broker) as connection:
        tasks.run(
            "remediation.execute",
            lambda request_id: app.send_task(
                "remediation.execute", args=[request_id], connection=connection
            ),
        )
        request = services.request_remediation(drifted, "sync", requester)
        slow = {
            "CELERY_BROKER_URL": broker,
            "REMEDIATION_PAUSE_SECONDS": "2",
            "REMEDIATION_LEASE_SECONDS": "3",
        }
        first = WorkerProcess(tmp_path / "first.log", slow, pool="prefork")
        first.start()
        try:
            services.approve(request.pk, approver)
            steps = request.steps.all()
            wait(
                lambda: steps.filter(status=StepStatus.APPLIED).count() >= 1,
                60,
                "the first object being applied",
            )
        finally:
            first.kill()  # between two objects, as the worker pauses
        # A COMMIT the worker sent just before SIGKILL still lands: count once it has.
        applied_by_first = settled(lambda: steps.filter(status=StepStatus.APPLIED).count())
        assert 1 <= applied_by_first < len(TARGETS)
        request.refresh_from_db()
        assert request.status == RequestStatus.EXECUTING

        second = WorkerProcess(
            tmp_path / "second.log", {"CELERY_BROKER_URL": broker, "REMEDIATION_LEASE_SECONDS": "3"}
        )
        second.start()
        try:
            time.sleep(3.5)  # the dead worker's lease runs out
            assert services.resume_due() == 1  # what beat does every 30 s
            wait(
                lambda: (
                    RemediationRequest.objects.get(pk=request.pk).status == RequestStatus.SUCCEEDED
                ),
                60,
                "the request completing",
            )
        finally:
            second.stop()

    request.refresh_from_db()
    assert (request.executions, request.result["verified"]) == (2, True)
    assert [(s.status, s.attempts) for s in request.steps.all()] == [(StepStatus.APPLIED, 1)] * len(
        TARGETS
    )
    after = generations(devcluster, kube_namespace)
    assert {name: after[name] - before[name] for name in TARGETS} == dict.fromkeys(TARGETS, 1)
    story = list(
        AuditEvent.objects.filter(
            object_type="remediation.remediationrequest", object_id=str(request.pk)
        )
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert story == [
        "remediation.requested",
        "remediation.approve_given",
        "remediation.approved",
        "remediation.started",
        *["remediation.step_applied"] * applied_by_first,
        "remediation.resumed",
        *["remediation.step_applied"] * (len(TARGETS) - applied_by_first),
        "remediation.succeeded",
    ]
