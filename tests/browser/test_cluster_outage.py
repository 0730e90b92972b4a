"""A cluster stopped while people watch: its own real API server (etcd, kube-apiserver,
controller-manager from scripts/devcluster) is scanned, then stopped. Within two of its
policy's intervals the overview names it unreachable and its score stale, and its failed
scans say why, never "No drift".

The scheduler is played by the test (the beat's `dispatch_due` and a worker's `run`, in
this process), so the scans run on time without a Celery worker; the clock is the real one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from drift.models import Cluster, DriftPolicy, GitSource, Scan, ScanStatus
from drift.services import scanning
from tests.browser.conftest import Visitor
from tests.gitwork import git
from tests.plugins.devcluster import DevCluster, _load_cluster, _run_script

pytestmark = [pytest.mark.browser, pytest.mark.kube, pytest.mark.django_db(transaction=True)]

NAME = "test-outage"
PORT = "16573"  # apart from test-a/test-b (16543, 16553) and the demo's (16443, 16453)
INTERVAL = 10  # seconds: the shortest a policy may have
CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: steady
"""


@pytest.fixture
def outage_cluster(pytestconfig: pytest.Config) -> Iterator[DevCluster]:
    """A cluster of this test's own: stopping it must not stop anyone else's."""
    _run_script(pytestconfig, "build", timeout=60 * 60)
    _run_script(pytestconfig, "start", "--name", NAME, "--port", PORT, timeout=15 * 60)
    try:
        yield _load_cluster(pytestconfig, NAME)
    finally:
        _run_script(pytestconfig, "stop", "--name", NAME, timeout=300)


@pytest.fixture
def watched(outage_cluster: DevCluster, tmp_path: Path) -> DriftPolicy:
    """The cluster runs what Git declares; a policy scans it every INTERVAL seconds."""
    repo = tmp_path / "deploy"
    (repo / "k8s").mkdir(parents=True)
    (repo / "k8s" / "settings.yaml").write_text(CONFIG)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "settings")
    outage_cluster.kubectl("create", "namespace", "shop", check=False)
    outage_cluster.kubectl("apply", "-f", str(repo / "k8s" / "settings.yaml"))
    cluster = Cluster(name="outage", labels={"env": "test"})
    cluster.set_credentials(Path(outage_cluster.kubeconfig("driftcontrol-scanner")).read_text())
    cluster.save()
    source = GitSource.objects.create(name="deploy", url=str(repo), ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name="shop",
        source=source,
        cluster_names=["outage"],
        interval_seconds=INTERVAL,
        namespaces={"include": ["shop"], "exclude": []},
    )


def scan_when_due(policy: DriftPolicy) -> None:
    """What the beat and a worker do together: queue the scans due, and run them."""

    def queued() -> set[int]:
        return set(Scan.objects.filter(status=ScanStatus.QUEUED).values_list("pk", flat=True))

    before = queued()
    scanning.dispatch_due()
    for pk in sorted(queued() - before):
        scanning.run(pk)


def test_a_cluster_stopped_under_watch_turns_unreachable_and_stale_within_two_intervals(
    watched: DriftPolicy, outage_cluster: DevCluster, chromium: Any, live_server: Any,
    admin_user: Any, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # dispatch_due queues through Celery: here the test is the worker.
    monkeypatch.setattr("driftcontrol.queue.send", lambda *args, **kwargs: None)
    scan_when_due(watched)
    assert Scan.objects.get().status == ScanStatus.SUCCEEDED
    ada = Visitor(chromium, live_server.url, admin_user).sign_in()
    attention = ada.page.locator("section.attention")
    try:
        page = ada.visit("/clusters/")
        expect(page.locator("tr", has_text="outage")).to_contain_text("reachable")

        _run_script(pytestconfig, "stop", "--name", NAME, timeout=300)
        stopped = time.monotonic()
        while time.monotonic() - stopped < 2 * INTERVAL + INTERVAL / 2:
            scan_when_due(watched)
            ada.visit("/")
            if attention.locator("text=stale").count():
                break
            time.sleep(1)
        waited = time.monotonic() - stopped

        expect(attention).to_contain_text("outage")
        expect(attention).to_contain_text("unreachable")
        expect(attention).to_contain_text("stale")
        assert waited <= 2 * INTERVAL + INTERVAL / 2, f"stale only after {waited:.0f} s"

        failed = Scan.objects.filter(status=ScanStatus.FAILED).latest("pk")
        page = ada.visit(f"/scans/{failed.pk}/")
        expect(page.locator("main")).to_contain_text("127.0.0.1:" + str(int(PORT)))
        expect(page.locator("main")).not_to_contain_text("No drift")
        page = ada.visit("/system/")
        expect(page.locator("tr", has_text="outage")).to_contain_text("unreachable")
        ada.assert_no_console_errors()
    finally:
        ada.close()
