"""docs/integrations.md, executed: its curl and manage.py steps run with bash against a
live server, a real Kubernetes API server and a real webhook receiver, and the webhooks
it promises arrive, signed as its Python snippet checks."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from drift.models import Scan
from driftcontrol import webhooks
from remediation import services
from remediation.models import RemediationRequest
from tests.api import doc_steps
from tests.celery_worker import _database_url
from tests.integration.conftest import apply_shop

pytestmark = [pytest.mark.kube, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SECRET = "a-long-random-string-you-share-with-the-receiver"


def in_thread(work):
    """What a worker would do with a queued task, in a thread with its own connection."""

    def start(object_id: int) -> None:
        def run() -> None:
            try:
                work(object_id)
            finally:
                connection.close()

        threading.Thread(target=run, daemon=True).start()

    return start


@pytest.fixture
def workers(tasks):
    from drift.services import scanning

    tasks.run("scans.run", in_thread(scanning.run))
    tasks.run("remediation.execute", in_thread(services.execute))
    tasks.run("webhooks.deliver", webhooks.deliver)


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def beat_dispatch(receiver, count: int):
    """The periodic task, run as beat would run it, until the receiver has ``count``."""
    wait_until(lambda: webhooks.dispatch() >= 0 and len(receiver.requests) >= count, 30)
    return receiver.requests


def test_the_ticketing_walkthrough(
    live_server,
    settings,
    workers,
    receiver,
    private_targets,
    devcluster,
    shop_repo,
    shop_policy,
    scanner_cluster,
    kube_namespace,
):
    from tests.factories import UserFactory

    UserFactory(username="ada", role="admin")
    UserFactory(username="anna", role="approver")
    settings.BASE_URL = live_server.url
    apply_shop(devcluster, shop_repo, kube_namespace)
    steps = doc_steps.steps()
    verify = doc_steps.verify_function()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DATABASE_URL": _database_url(),
        "DRIFT": live_server.url,
        "RECEIVER_URL": receiver.url,
        "WEBHOOK_SECRET": SECRET,
        "POLICY": shop_policy.name,
        "CLUSTER": scanner_cluster.name,
    }

    _, env = doc_steps.run(steps["tokens"], env, ROOT)
    subscription, env = doc_steps.run(steps["subscribe"], env, ROOT)
    assert subscription["name"] == "jira" and subscription["active"]

    # Someone edits the cluster by hand; the integration asks for a scan.
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/web", "web=evil.example/web:6.6.6"
    )
    scan, env = doc_steps.run(steps["scan"], env, ROOT)
    wait_until(lambda: Scan.objects.get(pk=scan["id"]).finished_at is not None)
    assert Scan.objects.get(pk=scan["id"]).status == "succeeded"

    beat_dispatch(receiver, 1)
    opened = [r for r in receiver.requests if r.json()["type"] == "finding.opened"]
    web = next(r for r in opened if r.json()["payload"]["finding"]["name"] == "web")
    assert verify(SECRET, web.headers["X-DriftControl-Signature"], web.body)
    assert not verify("not-the-secret", web.headers["X-DriftControl-Signature"], web.body)
    finding = web.json()["payload"]["finding"]
    assert web.json()["payload"]["links"]["api"] == (
        f"{live_server.url}/api/v1/findings/{finding['id']}/"
    )
    env["FINDING"] = str(finding["id"])

    linked, env = doc_steps.run(steps["link-ticket"], env, ROOT)
    assert linked["ticket_id"] == "OPS-123"

    requested, env = doc_steps.run(steps["request-remediation"], env, ROOT)
    assert requested["status"] == "pending" and requested["findings"] == [finding["id"]]
    assert requested["steps"][0]["changes"]
    retried, env = doc_steps.run(steps["request-remediation"], env, ROOT)
    assert retried["id"] == requested["id"]  # the same key: the first answer, nothing new
    assert RemediationRequest.objects.count() == 1

    approved, env = doc_steps.run(steps["approve"], env, ROOT)
    assert approved["status"] in ("approved", "executing", "succeeded")
    assert approved["approvals"][0]["approver"] == "anna"
    wait_until(lambda: RemediationRequest.objects.get(pk=env["REQUEST"]).is_final)
    assert RemediationRequest.objects.get(pk=env["REQUEST"]).status == "succeeded"

    seen = len(receiver.requests)
    beat_dispatch(receiver, seen + 2)
    later = [r.json() for r in receiver.requests[seen:]]
    assert {e["type"] for e in later} == {"remediation.succeeded", "finding.resolved"}
    resolved = next(e for e in later if e["type"] == "finding.resolved")
    assert resolved["payload"]["finding"]["id"] == finding["id"]
    assert all(
        verify(SECRET, r.headers["X-DriftControl-Signature"], r.body) for r in receiver.requests
    )

    checked, env = doc_steps.run(steps["check-finding"], env, ROOT)
    assert (env["FINDING_STATUS"], checked["ticket_id"]) == ("resolved", "OPS-123")


def test_every_step_of_the_walkthrough_is_run_by_the_test():
    ran = {
        "tokens",
        "subscribe",
        "scan",
        "link-ticket",
        "request-remediation",
        "approve",
        "check-finding",
    }

    assert set(doc_steps.steps()) == ran
