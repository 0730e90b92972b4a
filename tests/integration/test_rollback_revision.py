"""Rollback to a Git revision: a release that went wrong, drifted on top, is rolled back to
the manifests of the previous commit, and the object is exactly what that commit made."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from drift import kube
from remediation import services
from remediation.models import ObjectPin, RemediationRequest, RequestStatus
from tests.integration.conftest import apply_shop, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
MANIFESTS = "k8s/microservices-demo/kubernetes-manifests.yaml"
RELEASED = "gcr.io/google-samples/microservices-demo/frontend:v0.7.0"
NEXT = "gcr.io/google-samples/microservices-demo/frontend:v0.8.0"


def frontend(admin: kube.Kube, namespace: str) -> dict:
    """The Deployment as the cluster holds it, without what the server keeps for itself."""
    resource = admin.discover().find("apps/v1", "Deployment")
    obj = admin.get(resource, namespace, "frontend")
    assert obj is not None
    return {"spec": obj["spec"], "labels": obj["metadata"].get("labels")}


def test_a_rollback_to_an_earlier_commit_restores_the_object_exactly(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, requester, approver,
    tasks, django_capture_on_commit_callbacks,
):  # fmt: skip
    admin = kube.Kube(Path(devcluster.kubeconfig("admin")).read_text())
    apply_shop(devcluster, shop_repo, kube_namespace)
    released = shop_repo.git("rev-parse", "HEAD")
    as_released = frontend(admin, kube_namespace)
    path = shop_repo.path / MANIFESTS
    path.write_text(path.read_text().replace(RELEASED, NEXT))
    shop_repo.commit("frontend v0.8.0")
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl(
        "set", "env", "-n", kube_namespace, "deployment/frontend", "PORT=9999"
    )  # fmt: skip
    scan(shop_policy, scanner_cluster)
    drifted = findings(shop_policy)["Deployment", "frontend", "modified"]
    assert frontend(admin, kube_namespace) != as_released

    out = io.StringIO()
    call_command(
        "drift", "remediate", f"--finding={drifted.pk}", "--strategy=rollback",
        f"--revision={released}", f"--as={requester.username}", stdout=out,
    )  # fmt: skip
    request = RemediationRequest.objects.get()
    assert request.revision == released
    assert request.status == RequestStatus.PENDING, request.status_reason
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver, "back to the release that worked")
    queued = tasks.queued("remediation.execute")
    while queued:
        services.execute(queued.pop(0))

    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED, (request.status_reason, request.result)
    assert request.result["verified"] is True
    assert frontend(admin, kube_namespace) == as_released
    # Git's head still says v0.8.0: the rolled-back object is pinned, so enforcing policies
    # leave it alone until someone unpins it or Git changes what it declares.
    assert ObjectPin.objects.filter(name="frontend", kind="Deployment").exists()
