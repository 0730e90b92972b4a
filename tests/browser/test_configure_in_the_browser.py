"""An admin sets DriftControl up from nothing, in the browser only: a lane, a cluster (its
kubeconfig uploaded and its connection tested), a Git source (fetched on trial) and a
policy (validated and dry-run in the editor). The first scan of the real API server then
finds the drift someone made live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from drift.models import Cluster, DriftPolicy, Scan
from drift.services import scanning
from driftcontrol.models import AuditEvent
from tests.gitwork import git

pytestmark = [pytest.mark.browser, pytest.mark.kube, pytest.mark.django_db(transaction=True)]

SETTINGS = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {namespace}
data:
  mode: steady
"""
POLICY = """apiVersion: driftcontrol.io/v1alpha1
kind: DriftPolicy
metadata:
  name: lab
spec:
  source: deploy
  clusters:
    names: [lab]
  namespaces:
    include: [{namespace}]
  interval: 2m
"""


@pytest.fixture
def drifted_repo(devcluster: Any, kube_namespace: str, tmp_path: Path) -> Path:
    """Git declares a ConfigMap; the cluster runs it, then someone edits it live."""
    repo = tmp_path / "deploy"
    (repo / "k8s").mkdir(parents=True)
    manifest = repo / "k8s" / "settings.yaml"
    manifest.write_text(SETTINGS.format(namespace=kube_namespace))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    devcluster.kubectl("apply", "-f", str(manifest))
    devcluster.kubectl(
        "patch", "configmap", "settings", "-n", kube_namespace, "-p", '{"data":{"mode":"rogue"}}'
    )
    return repo


def test_an_admin_configures_everything_in_the_browser_and_the_first_scan_finds_the_drift(
    visitor: Any, admin_user: Any, devcluster: Any, kube_namespace: str, drifted_repo: Path
) -> None:
    ada = visitor(admin_user)

    page = ada.visit("/lanes/new")
    page.get_by_label("Name", exact=True).fill("lab-lane")
    page.get_by_label("Namespaces").fill(kube_namespace)
    page.get_by_role("button", name="Add lane").click()
    expect(page.locator(".flash-success")).to_contain_text("lab-lane")

    page = ada.visit("/clusters/new")
    page.get_by_label("Name", exact=True).fill("lab")
    page.get_by_label("Labels").fill("env=test")
    page.get_by_label("lab-lane").check()
    page.get_by_label("Kubeconfig file").set_input_files(
        devcluster.kubeconfig("driftcontrol-scanner")
    )
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection")).to_contain_text("v1.20")
    ada.screenshot("cluster-form")
    page.get_by_role("button", name="Add cluster").click()
    expect(page.locator("h1")).to_contain_text("lab")

    page = ada.visit("/sources/new")
    page.get_by_label("Name", exact=True).fill("deploy")
    page.get_by_label("Repository URL").fill(str(drifted_repo))
    page.get_by_label("Ref").fill("main")
    page.get_by_label("Path").fill("k8s")
    page.get_by_role("button", name="Test fetch").click()
    expect(page.locator("#test-fetch")).to_contain_text("main")
    page.get_by_role("button", name="Add source").click()
    expect(page.locator(".flash-success")).to_contain_text("deploy")

    page = ada.visit("/policies/new")
    page.get_by_label("Policy document (YAML)").fill(POLICY.format(namespace=kube_namespace))
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation")).to_contain_text("Valid: drift apply would accept")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator("#dry-run")).to_contain_text("settings")
    ada.screenshot("policy-editor")
    assert not Scan.objects.exists()  # a dry run stores nothing
    page.get_by_role("button", name="Add policy").click()
    expect(page.locator("h1")).to_contain_text("lab")

    cluster = Cluster.objects.get(name="lab")
    assert [lane.name for lane in cluster.lanes.all()] == ["lab-lane"]
    queued, _ = scanning.request(DriftPolicy.objects.get(name="lab"), cluster, enqueue=False)
    scanning.run(queued.pk)

    page = ada.visit("/findings/?cluster=lab")
    row = page.locator("#results tbody tr", has_text="settings")
    expect(row).to_contain_text("ConfigMap")
    expect(row).to_contain_text("/data/mode")
    changes = AuditEvent.objects.filter(data__via="dashboard").values_list("action", flat=True)
    assert sorted(changes) == [
        "cluster.created", "driftpolicy.created", "gitsource.created", "lane.created",
    ]  # fmt: skip
    ada.assert_no_console_errors()
