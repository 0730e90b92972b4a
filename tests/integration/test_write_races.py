"""A guarded write (a restore PUTs the snapshot with the resourceVersion it read) racing
another writer on the real API server: a writer that touches nothing the step changes
(a controller writing status) costs a retry; one that
changes what the step changes wins, and nothing of it is overwritten."""

from __future__ import annotations

import pytest
from kubernetes import client

from drift.kube.writing import Writing
from remediation import services
from remediation.models import RemediationRequest, RequestStatus
from tests.integration.conftest import apply_shop, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
EVIL = "evil.example/web:6.6.6"
RIVAL = "rival.example/web:7.0.0"


def web(devcluster, namespace):
    with devcluster.client() as api:
        return client.AppsV1Api(api).read_namespaced_deployment("web", namespace)


@pytest.fixture
def synced(devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, requester,
           approver, tasks, django_capture_on_commit_callbacks):  # fmt: skip
    """web's image edited live, scanned, synced back to Git: a request to roll back."""
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("set", "image", "-n", kube_namespace, "deployment/web", f"web={EVIL}")
    scan(shop_policy, scanner_cluster)
    drifted = findings(shop_policy)["Deployment", "web", "modified"]
    queued = tasks.queued("remediation.execute")
    with django_capture_on_commit_callbacks(execute=True):
        sync = services.request_remediation([drifted], "sync", requester)
        services.approve(sync.pk, approver)
    while queued:
        services.execute(queued.pop(0))
    return drifted, RemediationRequest.objects.get(pk=sync.pk), queued


def undo(synced, requester, approver, django_capture_on_commit_callbacks):
    drifted, sync, queued = synced
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drifted], "rollback", requester, rollback_of=sync)
        services.approve(request.pk, approver)
    while queued:
        services.execute(queued.pop(0))
    request.refresh_from_db()
    return request


def race_first_write(monkeypatch, rival):
    """Just before the first PUT reaches the server, ``rival`` writes the object."""
    real = Writing.replace
    raced = []

    def replace(self, resource, manifest, dry_run=False, **kwargs):
        if not dry_run and not raced:
            raced.append(True)
            rival()
        return real(self, resource, manifest, dry_run=dry_run, **kwargs)

    monkeypatch.setattr(Writing, "replace", replace)
    return raced


def test_a_restore_that_loses_a_race_to_a_status_write_retries_and_succeeds(
    synced, monkeypatch, devcluster, kube_namespace, requester, approver,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    def controller_writes_status():
        # What the Deployment controller does after every change: a new resourceVersion,
        # nothing the restore changes.
        with devcluster.client() as api:
            client.AppsV1Api(api).patch_namespaced_deployment_status(
                "web", kube_namespace, {"status": {"collisionCount": 1}}
            )

    raced = race_first_write(monkeypatch, controller_writes_status)

    rollback = undo(synced, requester, approver, django_capture_on_commit_callbacks)

    assert raced, "the race never happened"
    assert rollback.status == RequestStatus.SUCCEEDED, rollback.status_reason
    assert web(devcluster, kube_namespace).spec.template.spec.containers[0].image == EVIL


def test_a_restore_that_loses_a_race_to_a_change_of_its_fields_overwrites_nothing(
    synced, monkeypatch, devcluster, kube_namespace, requester, approver,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    def someone_sets_the_image():
        devcluster.kubectl("set", "image", "-n", kube_namespace, "deployment/web", f"web={RIVAL}")

    raced = race_first_write(monkeypatch, someone_sets_the_image)

    rollback = undo(synced, requester, approver, django_capture_on_commit_callbacks)

    assert raced, "the race never happened"
    assert rollback.status == RequestStatus.FAILED
    assert "has been modified" in rollback.status_reason
    assert web(devcluster, kube_namespace).spec.template.spec.containers[0].image == RIVAL
