"""Remediation with people in the loop, against the local API server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from kubernetes import client

from drift.models import FindingStatus, PolicyMode
from driftcontrol.exceptions import AlreadyDecided, InvalidTransition, NotAllowed
from driftcontrol.models import AuditEvent, OutboxEvent
from remediation import services
from remediation.models import ObjectPin, RemediationRequest, RequestStatus, StepStatus
from remediation.services.planning import changes
from tests.integration.conftest import apply_shop, findings, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
IMAGE = "/spec/template/spec/containers/0/image"
DECLARED_WEB = "registry.example/shop/web:1.4.2"


@pytest.fixture
def no_celery(tasks):
    """Executions queued on commit are kept here (the test runs them); auto-remediation
    runs in the test, instead of on a worker."""
    tasks.run("remediation.auto", services.handle_opened)
    return tasks.queued("remediation.execute")


def web_image(devcluster, namespace):
    with devcluster.client() as api:
        deployment = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    return deployment.spec.template.spec.containers[0].image


@pytest.fixture
def drifted(devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace):
    """The shop applied, then web's image edited live and scanned: one open finding."""
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/web", "web=evil.example/web:6.6.6"
    )
    scan(shop_policy, scanner_cluster)
    return findings(shop_policy)["Deployment", "web", "modified"]


def run_queued(queued):
    while queued:
        services.execute(queued.pop(0))


def test_request_approve_execute_verifies_and_resolves(
    drifted,
    requester,
    approver,
    devcluster,
    kube_namespace,
    no_celery,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drifted], "sync", requester, "revert the edit")
    assert request.status == RequestStatus.PENDING  # high severity: one approval
    [step] = request.steps.all()
    assert [(c["path"], c["live"], c["planned"]) for c in step.changes] == [
        (IMAGE, "evil.example/web:6.6.6", DECLARED_WEB)
    ]
    # Taken over: the edited image, and the quantities the server re-spelled (1000m -> 1),
    # which server-side apply sees as another value owned by kubectl's client-side apply.
    assert {
        "field": "/spec/template/spec/containers[name=web]/image",
        "from": "kubectl-set",
    } in step.takeovers
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"  # plan only

    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver, "looks right")
    run_queued(no_celery)

    request.refresh_from_db()
    assert (request.status, request.result["verified"]) == (RequestStatus.SUCCEEDED, True)
    assert web_image(devcluster, kube_namespace) == DECLARED_WEB
    drifted.refresh_from_db()
    assert drifted.status == FindingStatus.RESOLVED
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
        "remediation.step_applied",
        "remediation.succeeded",
    ]
    assert {e.event_type for e in OutboxEvent.objects.all()} >= {
        "remediation.requested",
        "remediation.approved",
        "remediation.succeeded",
        "finding.resolved",
    }


def test_critical_drift_needs_two_distinct_approvers(
    devcluster,
    shop_repo,
    shop_policy,
    scanner_cluster,
    kube_namespace,
    requester,
    approver,
    second_approver,
    no_celery,
    django_capture_on_commit_callbacks,
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl(
        "patch",
        "-n",
        kube_namespace,
        "rolebinding",
        "deployers",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/subjects/-","value":{"kind":"User",'
        '"name":"mallory","apiGroup":"rbac.authorization.k8s.io"}}]',
    )
    scan(shop_policy, scanner_cluster)
    binding = findings(shop_policy)["RoleBinding", "deployers", "modified"]

    request = services.request_remediation([binding], "sync", requester)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver)
    request.refresh_from_db()
    assert (request.status, request.approvals_required) == (RequestStatus.PENDING, 2)
    with pytest.raises(AlreadyDecided):
        services.approve(request.pk, approver)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, second_approver)
    run_queued(no_celery)

    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED
    with devcluster.client() as api:
        subjects = (
            client.RbacAuthorizationV1Api(api)
            .read_namespaced_role_binding("deployers", kube_namespace)
            .subjects
        )
    assert [s.name for s in subjects] == ["deployer"]


def test_a_rejected_request_changes_nothing(
    drifted, requester, approver, devcluster, kube_namespace, no_celery
):
    request = services.request_remediation([drifted], "sync", requester)

    services.reject(request.pk, approver, "wait for the release")

    request.refresh_from_db()
    assert (request.status, request.status_reason) == (
        RequestStatus.REJECTED,
        "wait for the release",
    )
    assert no_celery == []
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"
    with pytest.raises(InvalidTransition, match="only a request waiting for approval"):
        services.approve(request.pk, approver)


def test_an_unapproved_request_expires_and_changes_nothing(
    drifted, requester, approver, devcluster, kube_namespace, no_celery
):
    request = services.request_remediation([drifted], "sync", requester)
    RemediationRequest.objects.filter(pk=request.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert services.expire_due() == 1

    request.refresh_from_db()
    assert request.status == RequestStatus.EXPIRED
    assert OutboxEvent.objects.filter(event_type="remediation.expired").count() == 1
    with pytest.raises(InvalidTransition):
        services.approve(request.pk, approver)
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"


def test_nobody_approves_their_own_request_and_viewers_cannot_request(
    drifted, requester, viewer, no_celery
):
    from driftcontrol.permissions import Role, set_role

    set_role(requester, Role.APPROVER)
    with pytest.raises(NotAllowed, match="is a viewer"):
        services.request_remediation([drifted], "sync", viewer)
    request = services.request_remediation([drifted], "sync", requester)

    with pytest.raises(NotAllowed, match="four-eyes"):
        services.approve(request.pk, requester)
    with pytest.raises(CommandError, match="four-eyes"):
        call_command("drift", "approve", str(request.pk), "--as", requester.username)
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert not request.approvals.exists()


@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_execute_exactly_once(
    drifted, requester, approver, second_approver, no_celery
):
    request = services.request_remediation([drifted], "sync", requester)
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(user):
        barrier.wait()
        try:
            services.approve(request.pk, user)
            outcomes.append("approved")
        except InvalidTransition as refusal:
            outcomes.append(str(refusal))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(u,)) for u in (approver, second_approver)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes)[0] == "approved"
    assert len(no_celery) == 1  # one execution queued
    queued = list(no_celery)
    run_queued(no_celery)
    assert services.execute(queued[0]) is None  # a second delivery finds nothing to do
    request.refresh_from_db()
    assert (request.status, request.executions) == (RequestStatus.SUCCEEDED, 1)


def test_a_change_between_plan_and_execution_goes_back_for_approval(
    drifted,
    requester,
    approver,
    second_approver,
    devcluster,
    kube_namespace,
    no_celery,
    django_capture_on_commit_callbacks,
):
    request = services.request_remediation([drifted], "sync", requester)
    devcluster.kubectl("set", "env", "-n", kube_namespace, "deployment/web", "MODE=debug")
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver)

    run_queued(no_celery)

    request.refresh_from_db()
    assert (request.status, request.plan_version) == (RequestStatus.PENDING, 2)
    assert "changed after the plan was made" in request.status_reason
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"  # untouched
    # The new plan shows the other change too, and earlier approvals no longer count.
    paths = {c["path"] for c in request.steps.get().changes}
    assert IMAGE in paths and any("/env/" in p for p in paths)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver)  # the same approver may approve the new plan
    run_queued(no_celery)
    request.refresh_from_db()
    assert request.status == RequestStatus.SUCCEEDED


def test_rollback_restores_exactly_and_pins_against_auto_remediation(
    drifted,
    requester,
    approver,
    devcluster,
    kube_namespace,
    shop_policy,
    scanner_cluster,
    no_celery,
    django_capture_on_commit_callbacks,
):
    from drift.services import snapshots
    from drift.services.clusters import connect

    kube = connect(scanner_cluster)
    deployments = kube.discover().find("apps/v1", "Deployment")
    original = kube.get(deployments, kube_namespace, "web")
    before = snapshots.digest(original)
    with django_capture_on_commit_callbacks(execute=True):
        sync = services.request_remediation([drifted], "sync", requester)
        services.approve(sync.pk, approver)
    run_queued(no_celery)
    assert web_image(devcluster, kube_namespace) == DECLARED_WEB

    with django_capture_on_commit_callbacks(execute=True):
        undo = services.request_remediation(
            [drifted], "rollback", requester, rollback_of=RemediationRequest.objects.get(pk=sync.pk)
        )
        services.approve(undo.pk, approver)
    run_queued(no_celery)

    undo.refresh_from_db()
    assert undo.status == RequestStatus.SUCCEEDED, undo.status_reason
    restored = kube.get(deployments, kube_namespace, "web")
    assert changes(original, restored) == []  # the normalized objects are equal
    assert snapshots.digest(restored) == before
    assert RemediationRequest.objects.get(pk=sync.pk).status == RequestStatus.ROLLED_BACK
    pin = ObjectPin.objects.active().get(name="web")

    # Enforcing now: the next scan sees the drift again, and auto-remediation leaves it.
    shop_policy.mode, shop_policy.auto_remediate_up_to = PolicyMode.ENFORCE, "critical"
    shop_policy.save()
    with django_capture_on_commit_callbacks(execute=True):
        scan(shop_policy, scanner_cluster)
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"
    assert not RemediationRequest.objects.filter(trigger="auto").exists()

    services.unpin(pin.pk, approver)
    finding = findings(shop_policy)["Deployment", "web", "modified"]
    with django_capture_on_commit_callbacks(execute=True):
        made = services.handle_opened(shop_policy.pk, scanner_cluster.pk, [finding.pk])
    run_queued(no_celery)
    assert RemediationRequest.objects.get(pk=made[0]).status == RequestStatus.SUCCEEDED
    assert web_image(devcluster, kube_namespace) == DECLARED_WEB


def test_enforce_mode_remediates_up_to_its_threshold_and_asks_above_it(
    devcluster,
    shop_repo,
    shop_policy,
    scanner_cluster,
    kube_namespace,
    no_celery,
    django_capture_on_commit_callbacks,
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    shop_policy.mode, shop_policy.auto_remediate_up_to = PolicyMode.ENFORCE, "medium"
    shop_policy.save()
    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=5")
    devcluster.kubectl(
        "set",
        "image",
        "-n",
        kube_namespace,
        "deployment/frontend",
        "server=evil.example/frontend:6",
    )

    with django_capture_on_commit_callbacks(execute=True):
        scan(shop_policy, scanner_cluster)
    run_queued(no_celery)

    auto = {r.findings.get().name: r for r in RemediationRequest.objects.all()}
    assert auto["web"].status == RequestStatus.SUCCEEDED  # medium: no approval
    assert (auto["frontend"].status, auto["frontend"].approvals_required) == (
        RequestStatus.PENDING,
        1,
    )  # high: waits for an approver
    with devcluster.client() as api:
        web = client.AppsV1Api(api).read_namespaced_deployment("web", kube_namespace)
    assert web.spec.replicas == 2


def test_preview_shows_what_enforcing_would_have_done(drifted, shop_policy):
    assert services.preview(shop_policy, "medium")["count"] == 0  # the image edit is high
    preview = services.preview(shop_policy, "high")
    assert preview["count"] == 1
    assert preview["findings"][0]["name"] == "web"


def test_a_failed_verification_rolls_back_to_the_snapshot(
    drifted,
    requester,
    approver,
    devcluster,
    kube_namespace,
    no_celery,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    from remediation.services.strategies.sync import Sync

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drifted], "sync", requester)
        services.approve(request.pk, approver)
    # A controller (here: a fake verification) keeps the object from matching Git.
    monkeypatch.setattr(
        Sync,
        "differs",
        lambda self, step, live, cluster: (
            ["/spec/template/spec/containers/0/image"] if self.request.pk == request.pk else []
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        run_queued(no_celery)
    run_queued(no_celery)

    request.refresh_from_db()
    rollback = RemediationRequest.objects.get(rollback_of=request)
    assert rollback.trigger == "verification"
    assert request.status == RequestStatus.ROLLED_BACK
    assert web_image(devcluster, kube_namespace) == "evil.example/web:6.6.6"
    assert ObjectPin.objects.active().filter(name="web").exists()


def test_flapping_drift_stops_auto_remediation_and_raises_an_alert(
    drifted, shop_policy, scanner_cluster, no_celery, django_capture_on_commit_callbacks
):
    from drift.models import Finding

    shop_policy.mode, shop_policy.auto_remediate_up_to = PolicyMode.ENFORCE, "critical"
    shop_policy.flap_count = 2
    shop_policy.save()
    # The same drift already came and went once within the window.
    Finding.objects.create(
        cluster=drifted.cluster,
        policy=shop_policy,
        api_group="apps",
        api_version="apps/v1",
        kind="Deployment",
        namespace=drifted.namespace,
        name="web",
        type="modified",
        severity="high",
        status="resolved",
        fingerprint=drifted.fingerprint,
        resolved_at=timezone.now(),
    )

    with django_capture_on_commit_callbacks(execute=True):
        made = services.handle_opened(shop_policy.pk, scanner_cluster.pk, [drifted.pk])
    run_queued(no_celery)

    [alert] = RemediationRequest.objects.filter(pk__in=made)
    assert (alert.strategy, alert.trigger, alert.severity, alert.status) == (
        "alert",
        "flapping",
        "high",
        RequestStatus.SUCCEEDED,
    )
    assert OutboxEvent.objects.filter(event_type="remediation.alert").exists()
    assert ObjectPin.objects.active().filter(name="web").exists()
    assert not RemediationRequest.objects.filter(strategy="sync").exists()


def test_every_executed_step_is_recorded(
    drifted, requester, approver, no_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drifted], "sync", requester)
        services.approve(request.pk, approver)
    run_queued(no_celery)

    step = request.steps.get()
    assert (step.status, step.attempts) == (StepStatus.APPLIED, 1)
    assert step.result["resourceVersion"]
