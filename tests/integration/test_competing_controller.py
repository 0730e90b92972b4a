"""Verification failing for a real reason: a misconfigured operator, running as a real
process next to the API server, owns the web Deployment's image and puts its own value
back whenever someone changes it. Nothing in DriftControl is patched."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from drift.models import FindingStatus, PolicyMode
from remediation import services
from remediation.models import ObjectPin, RemediationRequest, RequestStatus, RequestTrigger
from tests.integration.conftest import apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
FOUGHT_FOR = "operator.example/web:managed"

# The operator: watch one Deployment, and `delay` seconds after its image is not ours,
# write ours back (a JSON merge patch, as field manager rogue-operator). Plain kubectl, so
# it is a process of its own, as an operator would be.
OPERATOR = """
import json, subprocess, sys, time
kubectl, kubeconfig, namespace, image, delay = sys.argv[1:6]
base = [kubectl, "--kubeconfig", kubeconfig, "-n", namespace]
watch = subprocess.Popen(
    [*base, "get", "deployment/web", "--watch", "--output-watch-events", "-o", "json"],
    stdout=subprocess.PIPE, text=True,
)
decoder, buffer = json.JSONDecoder(), ""
for line in watch.stdout:
    buffer += line
    try:
        event, end = decoder.raw_decode(buffer.strip())
    except ValueError:
        continue
    buffer = ""
    containers = event["object"]["spec"]["template"]["spec"]["containers"]
    if containers[0]["image"] != image:
        time.sleep(float(delay))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
        subprocess.run([*base, "patch", "deployment/web", "--field-manager=rogue-operator",
                        "-p", json.dumps(patch)], capture_output=True)
"""


@pytest.fixture
def operator_process(devcluster, kube_namespace, tmp_path):
    """Start the operator (``delay`` seconds to react); stopped after the test."""
    started = []

    def start(delay: float) -> None:
        script = tmp_path / "rogue_operator.py"  # not operator.py: that is a stdlib module
        script.write_text(OPERATOR)
        kubectl = str(Path(django_settings.DRIFTCONTROL_CACHE) / "kubernetes-1.20.2/bin/kubectl")
        args = [kubectl, devcluster.kubeconfig("admin"), kube_namespace, FOUGHT_FOR, str(delay)]
        started.append(subprocess.Popen([sys.executable, str(script), *args]))
        deadline = time.monotonic() + 30
        while web_image(devcluster, kube_namespace) != FOUGHT_FOR:
            assert time.monotonic() < deadline, "the operator never wrote its image"
            time.sleep(0.2)

    yield start
    for process in started:
        process.kill()
        process.wait()


def web_image(devcluster, namespace: str) -> str:
    out = devcluster.kubectl("get", "-n", namespace, "deployment/web", "-o", "json").stdout
    return json.loads(out)["spec"]["template"]["spec"]["containers"][0]["image"]


def run_queued(tasks, capture) -> None:
    """Run what was queued, and what running it queues (an automatic rollback)."""
    queued = tasks.queued("remediation.execute")
    while queued:
        with capture(execute=True):
            services.execute(queued.pop(0))


def test_a_result_an_operator_reverts_fails_verification_and_is_rolled_back(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, requester, approver,
    operator_process, tasks, settings, django_capture_on_commit_callbacks,
):  # fmt: skip
    settings.REMEDIATION_VERIFY_SECONDS = 5
    apply_shop(devcluster, shop_repo, kube_namespace)
    operator_process(delay=0)
    scan(shop_policy, scanner_cluster)
    [drift] = shop_policy.findings.open().filter(name="web")

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drift], "sync", requester, "undo the operator")
        services.approve(request.pk, approver, "ok")
    run_queued(tasks, django_capture_on_commit_callbacks)  # the sync, then its rollback

    request.refresh_from_db()
    assert request.status == RequestStatus.ROLLED_BACK  # failed, then undone
    assert request.result["verified"] is False
    [paths] = request.result["remaining"].values()
    assert "/spec/template/spec/containers/0/image" in paths
    rollback = RemediationRequest.objects.get(rollback_of=request)
    assert rollback.trigger == RequestTrigger.VERIFICATION
    assert rollback.status == RequestStatus.SUCCEEDED, (rollback.status_reason, rollback.result)
    assert web_image(devcluster, kube_namespace) == FOUGHT_FOR
    assert ObjectPin.objects.filter(kind="Deployment", name="web").exists()


def test_drift_that_keeps_coming_back_is_pinned_and_alerted_on(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, operator_process,
    tasks, settings, django_capture_on_commit_callbacks,
):  # fmt: skip
    """The operator waits longer than verification: each sync verifies, then the drift is
    back. The third time within the flapping window, auto-remediation stops and alerts."""
    settings.REMEDIATION_VERIFY_SECONDS = 1
    shop_policy.mode, shop_policy.auto_remediate_up_to = PolicyMode.ENFORCE, "high"
    shop_policy.save()
    tasks.run("remediation.auto", services.handle_opened)
    apply_shop(devcluster, shop_repo, kube_namespace)
    operator_process(delay=6)

    for episode in range(1, 4):
        deadline = time.monotonic() + 30
        while web_image(devcluster, kube_namespace) != FOUGHT_FOR:
            assert time.monotonic() < deadline, f"episode {episode}: the operator stopped"
            time.sleep(0.2)
        with django_capture_on_commit_callbacks(execute=True):
            scan(shop_policy, scanner_cluster)
        run_queued(tasks, django_capture_on_commit_callbacks)

    episodes = shop_policy.findings.filter(name="web", kind="Deployment").order_by("first_seen")
    assert [f.status for f in episodes] == [FindingStatus.RESOLVED] * 2 + [FindingStatus.OPEN]
    auto = RemediationRequest.objects.filter(trigger=RequestTrigger.AUTO)
    assert [r.status for r in auto.order_by("pk")] == [RequestStatus.SUCCEEDED] * 2
    alert = RemediationRequest.objects.get(trigger=RequestTrigger.FLAPPING)
    assert (alert.strategy, alert.severity) == ("alert", "high")
    assert ObjectPin.objects.filter(kind="Deployment", name="web").exists()
    assert web_image(devcluster, kube_namespace) == FOUGHT_FOR  # left to people now
