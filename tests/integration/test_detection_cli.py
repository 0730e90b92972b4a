"""The `drift scan` and `drift findings` contract, and scans run by a real Celery worker."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from django.core.management import call_command

from drift.models import Scan, ScanStatus
from drift.services import scanning
from tests.integration.conftest import apply_shop

pytestmark = [pytest.mark.kube, pytest.mark.django_db]


def drift_command(capsys, *args):
    """Run `manage.py drift ...`; (exit code, stdout)."""
    try:
        call_command("drift", *args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().out


def test_scan_exit_code_is_0_without_drift_and_2_with_it(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, capsys
):
    apply_shop(devcluster, shop_repo, kube_namespace)

    code, out = drift_command(capsys, "scan", "shop", "--exit-code", "--output", "json")
    assert code == 0
    clean = json.loads(out)
    assert (clean["kind"], clean["status"]["phase"], clean["status"]["findings"]) == (
        "DriftReport",
        "Complete",
        [],
    )

    # The way `kubectl edit` changes an object: an editor rewrites the YAML it is given.
    editor = "sed -i s#registry.example/shop/web:1.4.2#evil.example/web:6.6.6#"
    devcluster.kubectl("edit", "-n", kube_namespace, "deployment/web", env={"KUBE_EDITOR": editor})
    code, out = drift_command(capsys, "scan", "shop", "--exit-code")

    assert code == 2
    report = yaml.safe_load(out)
    assert report["spec"] == {
        "policy": "shop",
        "cluster": "test-a",
        "revision": shop_repo.git("rev-parse", "HEAD"),
        "scan": report["spec"]["scan"],
    }
    assert report["status"]["summary"] == {
        "total": 1,
        "bySeverity": {"high": 1},
        "byType": {"modified": 1},
    }
    [finding] = report["status"]["findings"]
    assert set(finding) >= {
        "id",
        "type",
        "severity",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "paths",
        "patch",
        "attribution",
        "firstSeen",
        "lastSeen",
    }
    assert (finding["kind"], finding["name"], finding["apiVersion"]) == (
        "Deployment",
        "web",
        "apps/v1",
    )
    assert finding["paths"] == ["/spec/template/spec/containers/0/image"]
    assert finding["attribution"][0]["manager"] == "kubectl-edit"

    code, out = drift_command(capsys, "findings", "--open", "--output", "json")
    assert [(f["name"], f["cluster"], f["policy"]) for f in json.loads(out)] == [
        ("web", "test-a", "shop")
    ]


def test_scan_exit_code_is_1_when_the_scan_fails(shop_policy, scanner_cluster, capsys):
    scanner_cluster.set_credentials(
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: "
        "'https://127.0.0.1:1'}}]\nusers: [{name: x, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\n"
    )
    scanner_cluster.save()

    code, out = drift_command(capsys, "scan", "shop", "--exit-code", "--output", "table")

    assert code == 1
    assert "shop on test-a: Failed" in out


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_queued_scan_runs_on_a_real_worker(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, celery_worker
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=4")

    queued, created = scanning.request(shop_policy, scanner_cluster)
    again, created_again = scanning.request(shop_policy, scanner_cluster)

    assert (created, created_again, again.pk) == (True, False, queued.pk)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        queued.refresh_from_db()
        if queued.status in (ScanStatus.SUCCEEDED, ScanStatus.FAILED):
            break
        time.sleep(0.2)
    assert (queued.status, queued.error) == (ScanStatus.SUCCEEDED, "")
    assert (queued.progress_done, queued.findings_opened) == (queued.progress_total, 1)
    assert shop_policy.findings.open().get().name == "web"
    assert Scan.objects.count() == 1
