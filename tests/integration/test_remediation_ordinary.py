"""Remediation of manifests as people write them (`cpu: 0.1`, Service ports without
`protocol`), deployed with `kubectl apply`, edited live, synced back: from the command
line and from the REST API. The Git repository keeps the manifests exactly as written."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from kubernetes import client
from rest_framework.test import APIClient

from drift.models import FindingStatus
from remediation import services
from remediation.models import RemediationRequest, RequestStatus
from tests.api.conftest import token_for
from tests.integration.conftest import CHECKOUT, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
DECLARED_IMAGE = "registry.example/shop/checkout:3.2.0"


@pytest.fixture
def drifted(devcluster, checkout_repo, checkout_policy, scanner_cluster, kube_namespace, tasks):
    """Deployed with `kubectl apply`, then the image set and the selector patched live."""
    policy = checkout_policy
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(checkout_repo.path / "k8s"))
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/checkout", "checkout=evil.example/c:6"
    )
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "service/checkout", "-p",
        '{"spec": {"selector": {"app": "checkout-canary"}}}',
    )  # fmt: skip
    scan(policy, scanner_cluster)
    found = findings(policy)
    return policy, [
        found["Deployment", "checkout", "modified"],
        found["Service", "checkout", "modified"],
    ]


def live(devcluster, namespace):
    with devcluster.client() as api:
        deployment = client.AppsV1Api(api).read_namespaced_deployment("checkout", namespace)
        service = client.CoreV1Api(api).read_namespaced_service("checkout", namespace)
    containers = {c.name: c for c in deployment.spec.template.spec.containers}
    return {
        "image": containers["checkout"].image,
        "shipper cpu": containers["log-shipper"].resources.requests["cpu"],
        "selector": service.spec.selector,
        "ports": [(p.name, p.port, p.protocol) for p in service.spec.ports],
    }


def as_declared(devcluster, namespace) -> bool:
    return live(devcluster, namespace) == {
        "image": DECLARED_IMAGE,
        "shipper cpu": "100m",
        "selector": {"app": "checkout"},
        "ports": [("http", 80, "TCP"), ("grpc", 9999, "TCP")],
    }


def run_queued(tasks):
    queued = tasks.queued("remediation.execute")
    while queued:
        services.execute(queued.pop(0))


def test_a_sync_of_ordinary_manifests_from_the_command_line(
    drifted, requester, approver, devcluster, kube_namespace, tasks, checkout_repo,
    scanner_cluster, django_capture_on_commit_callbacks,
):  # fmt: skip
    policy, drift = drifted
    before = checkout_repo.git("rev-parse", "HEAD")
    out = io.StringIO()
    arguments = [f"--finding={f.pk}" for f in drift]
    call_command(
        "drift", "remediate", *arguments, "--strategy=sync", f"--as={requester.username}",
        stdout=out,
    )  # fmt: skip
    request = RemediationRequest.objects.get()
    assert request.status == RequestStatus.PENDING, request.status_reason
    assert not as_declared(devcluster, kube_namespace)  # a plan changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        call_command("drift", "approve", str(request.pk), f"--as={approver.username}", stdout=out)
    run_queued(tasks)

    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED, (request.status_reason, request.result)
    assert as_declared(devcluster, kube_namespace)
    assert {f.status for f in policy.findings.all()} == {FindingStatus.RESOLVED}
    # The remediation is credited on each finding, not a plain "no longer seen".
    assert {f.status_reason for f in policy.findings.all()} == {
        f"remediated by request #{request.pk} (sync), verified on the cluster"
    }
    scan(policy, scanner_cluster)
    assert not policy.findings.open().exists()
    assert checkout_repo.git("rev-parse", "HEAD") == before  # Git was never adapted
    assert (checkout_repo.path / "k8s" / "checkout.yaml").read_text() == CHECKOUT.read_text()


def test_a_sync_of_ordinary_manifests_through_the_api(
    drifted, requester, approver, devcluster, kube_namespace, tasks,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    _, drift = drifted

    def api(user):
        api_client = APIClient()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return api_client

    created = api(requester).post(
        "/api/v1/remediations/",
        {"findings": [f.pk for f in drift], "strategy": "sync", "reason": "undo live edits"},
        format="json",
    )
    assert created.status_code == 201, created.json()
    request_id = created.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        approved = api(approver).post(
            f"/api/v1/remediations/{request_id}/approve/", {"comment": "ok"}, format="json"
        )
    assert approved.status_code == 200, approved.json()
    run_queued(tasks)

    request = RemediationRequest.objects.get(pk=request_id)
    assert request.status == RequestStatus.SUCCEEDED, request.status_reason
    assert as_declared(devcluster, kube_namespace)


def test_a_plan_the_cluster_refuses_is_the_clusters_refusal_not_a_client_error(
    devcluster, checkout_repo, checkout_policy, scanner_cluster, kube_namespace, requester, tasks
):
    """Git declares a Deployment the API server will not take (its selector does not match
    its pods' labels): the sync's dry run is refused, and the API says the cluster refused
    it, with the cluster's own status and message."""
    checkout_repo.write(
        "k8s/broken.yaml",
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  selector:
    matchLabels:
      app: broken
  template:
    metadata:
      labels:
        app: something-else
    spec:
      containers:
        - name: app
          image: registry.example/shop/app:1.0
""",
    )
    checkout_repo.commit("a deployment that cannot be created")
    policy = checkout_policy
    scan(policy, scanner_cluster)
    missing = findings(policy)["Deployment", "broken", "missing"]
    api_client = APIClient()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(requester)}")

    answer = api_client.post(
        "/api/v1/remediations/", {"findings": [missing.pk], "strategy": "sync"}, format="json"
    )

    assert answer.status_code == 502, answer.json()
    body = answer.json()
    assert body["type"] == "cluster-refused"
    assert body["cluster"]["name"] == "test-a"
    assert body["cluster"]["status"] == 422
    assert "`selector` does not match template `labels`" in body["cluster"]["message"]
    assert not RemediationRequest.objects.exists()


def test_a_sync_takes_back_a_port_whose_number_was_changed_live(
    devcluster, checkout_repo, checkout_policy, scanner_cluster, kube_namespace, requester,
    approver, tasks, django_capture_on_commit_callbacks,
):  # fmt: skip
    """The port is the key of its list item: a live edit of it leaves the declared item
    missing and another in its place, owned by whoever edited it. Server-side apply alone
    would keep that item and add the declared one beside it (a duplicate port name)."""
    policy = checkout_policy
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(checkout_repo.path / "k8s"))
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "service/checkout", "--type=json", "-p",
        '[{"op": "replace", "path": "/spec/ports/1/port", "value": 9998}]',
    )  # fmt: skip
    scan(policy, scanner_cluster)
    drift = findings(policy)["Service", "checkout", "modified"]

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drift], "sync", requester, "port back")
    [step] = request.steps.all()
    assert {c["path"] for c in step.changes} >= {"/spec/ports/1/port"}, step.changes
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver, "ok")
    run_queued(tasks)

    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED, (request.status_reason, request.result)
    assert live(devcluster, kube_namespace)["ports"] == [("http", 80, "TCP"), ("grpc", 9999, "TCP")]
