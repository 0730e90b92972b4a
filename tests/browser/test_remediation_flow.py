"""End to end in the browser, against the local Kubernetes API server: someone edits a live
Deployment, a scan finds it, an operator requests a sync from the finding's page, an
approver (another login, another browser context) approves it in the queue, the change
reaches the cluster and the finding resolves."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from kubernetes import client
from playwright.sync_api import expect

from drift.models import FindingStatus
from remediation import services
from remediation.models import RemediationRequest, RequestStatus
from tests.integration.conftest import apply_shop, findings, scan

pytestmark = [pytest.mark.browser, pytest.mark.kube, pytest.mark.django_db(transaction=True)]

DECLARED = "registry.example/shop/web:1.4.2"
EDITED = "evil.example/web:6.6.6"


@pytest.fixture
def worker(tasks: Any) -> Iterator[list[threading.Thread]]:
    """What a Celery worker does with an approved request: the task queued after the
    approval commits runs services.execute, here in a thread of the test process."""
    started: list[threading.Thread] = []

    def execute_later(request_id: int) -> None:
        def work() -> None:
            try:
                services.execute(request_id)
            finally:
                connection.close()

        thread = threading.Thread(target=work, name=f"execute-{request_id}")
        thread.start()
        started.append(thread)

    tasks.run("remediation.execute", execute_later)
    yield started
    for thread in started:
        thread.join(timeout=120)


def web_image(devcluster: Any, namespace: str) -> str:
    with devcluster.client() as api:
        deployment = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    return str(deployment.spec.template.spec.containers[0].image)


def test_an_operator_requests_a_sync_and_an_approver_approves_it_in_the_browser(
    visitor: Any,
    devcluster: Any,
    shop_repo: Any,
    shop_policy: Any,
    scanner_cluster: Any,
    kube_namespace: str,
    operator: Any,
    approver: Any,
    worker: list[threading.Thread],
) -> None:
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("set", "image", "-n", kube_namespace, "deployment/web", f"web={EDITED}")
    scan(shop_policy, scanner_cluster)
    drifted = findings(shop_policy)["Deployment", "web", "modified"]

    # The operator finds the drift, reads its diff and asks for a sync.
    oscar = visitor(operator)
    page = oscar.visit("/findings/")
    page.get_by_label("Kind", exact=True).fill("Deployment")
    page.wait_for_url("**kind=Deployment**")
    page.locator("#results").get_by_role("link", name="web", exact=True).click()
    expect(page.locator("h1")).to_have_text(f"Deployment {kube_namespace}/web")
    expect(page.locator("table.sbs td.del").first).to_contain_text(DECLARED)
    expect(page.locator("table.sbs td.add").first).to_contain_text(EDITED)
    expect(page.get_by_text("last written by kubectl-set")).to_be_visible()
    oscar.screenshot("finding-detail")
    page.get_by_label("Strategy").select_option("sync")
    page.get_by_label("Reason (optional)").fill("revert the live edit")
    page.get_by_role("button", name="Request remediation").click()
    expect(page.locator(".flash-success")).to_contain_text("it waits for 1 approval")
    request = RemediationRequest.objects.get()
    assert request.status == RequestStatus.PENDING
    assert web_image(devcluster, kube_namespace) == EDITED  # a plan changes nothing

    # The approver, signed in elsewhere, reads the plan and approves it.
    anna = visitor(approver)
    page = anna.visit("/approvals/")
    card = page.locator(f"#request-{request.pk}")
    expect(card.locator("td.del").first).to_contain_text(EDITED)
    expect(card.locator("td.add").first).to_contain_text(DECLARED)
    expect(card).to_contain_text("from kubectl-set")
    expect(card).to_contain_text("Requested by oscar")
    anna.screenshot("approval-queue")
    card.get_by_label("Comment (optional)").fill("looks right")
    card.get_by_role("button", name=f"Approve request #{request.pk}").click()
    expect(page.locator(".flash-success")).to_contain_text(f"Request #{request.pk} is approved")

    # The page follows the execution by itself until it has an outcome.
    page = anna.visit(f"/remediations/{request.pk}/")
    expect(page.locator("p.lead .pill")).to_have_text("Succeeded", timeout=120_000)
    expect(page.locator("#h-verify + p .badge")).to_have_text("verified")
    expect(page.locator("ol.timeline")).to_contain_text("Approval given")
    expect(page.locator("ol.timeline")).to_contain_text("Object applied")
    anna.screenshot("remediation-detail")

    assert web_image(devcluster, kube_namespace) == DECLARED
    drifted.refresh_from_db()
    assert drifted.status == FindingStatus.RESOLVED
    page = oscar.visit(f"/findings/{drifted.pk}/")
    expect(page.locator("p.lead .pill")).to_have_text("Resolved")
    oscar.assert_no_console_errors()
    anna.assert_no_console_errors()


def test_ordinary_manifests_are_synced_from_the_browser(
    visitor: Any,
    devcluster: Any,
    checkout_repo: Any,
    checkout_policy: Any,
    scanner_cluster: Any,
    kube_namespace: str,
    operator: Any,
    approver: Any,
    worker: list[threading.Thread],
) -> None:
    """Manifests as public charts write them (`cpu: 0.1`, Service ports without
    `protocol`), deployed with `kubectl apply`, drifted live, synced from the pages."""
    policy = checkout_policy
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(checkout_repo.path / "k8s"))
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "service/checkout", "-p",
        '{"spec": {"selector": {"app": "checkout-canary"}}}',
    )  # fmt: skip
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/checkout", "log-shipper=evil.example/l:6"
    )  # fmt: skip
    scan(policy, scanner_cluster)
    drift = findings(policy)

    oscar = visitor(operator)
    page = oscar.visit("/findings/")
    page.get_by_label("Select all findings on this page").check()
    page.locator("summary", has_text="Request remediation").click()  # opens the action
    page.get_by_label("Strategy").select_option("sync")
    page.get_by_role("button", name="Request remediation").click()
    expect(page.locator(".flash-success")).to_contain_text("approval")
    request = RemediationRequest.objects.get()
    assert request.steps.count() == 2, request.status_reason

    anna = visitor(approver)
    page = anna.visit("/approvals/")
    card = page.locator(f"#request-{request.pk}")
    card.get_by_role("button", name=f"Approve request #{request.pk}").click()
    page = anna.visit(f"/remediations/{request.pk}/")
    expect(page.locator("p.lead .pill")).to_have_text("Succeeded", timeout=120_000)

    for finding in drift.values():
        finding.refresh_from_db()
        assert finding.status == FindingStatus.RESOLVED
    with devcluster.client() as api:
        service = client.CoreV1Api(api).read_namespaced_service("checkout", kube_namespace)
    assert service.spec.selector == {"app": "checkout"}
    oscar.assert_no_console_errors()
    anna.assert_no_console_errors()
