"""The admission webhook called by the real API server: `drift admission serve` as its own
process, `drift admission install` writing the ValidatingWebhookConfiguration into test-a,
and `kubectl` changes by people inside and outside the lane. The API server decides what
to do with each answer (refuse, pass with warnings, pass when nobody answers): nothing
here imitates it."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from alignment.admission import install as admission
from alignment.models import AdmissionDecision, RegistryCredential
from drift.models import Cluster, DriftPolicy, Lane
from tests.integration.conftest import apply_shop, scan, watching
from tests.integration.test_detection import wait_for
from tests.integration.test_supply_chain import Shop, deployed
from tests.integration.test_supply_chain import lane as supply_lane

pytestmark = [pytest.mark.kube, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
OTHER_IMAGE = "registry.example/shop/api:2.0.1"
PROBE_IMAGE = "registry.example/shop/api:9.9.9"  # only ever sent in dry runs


def database_url() -> str:
    """The test database, for the webhook's process (it sees what this test commits)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Webhook:
    """`manage.py drift admission serve` in a process of its own."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "ADMISSION_REFRESH_SECONDS": "1",
            "ADMISSION_HEARTBEAT_SECONDS": "1",
        }
        command = [sys.executable, "manage.py", "drift", "admission", "serve"]
        self.process = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while not self.healthy():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"drift admission serve did not start:\n{self.log.read_text()}")
            time.sleep(0.2)

    def healthy(self) -> bool:
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", context=unverified, timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a process manager stops it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def webhook(tmp_path: Path, settings: Any) -> Iterator[Webhook]:
    # test-a is shared by parallel tests: a configuration of this test's own, matching
    # only namespaces labelled for it.
    settings.ADMISSION_WEBHOOK_NAME = f"dc-admission-{uuid.uuid4().hex[:8]}"
    served = Webhook(tmp_path / "admission.log")
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def controlled(scanner_cluster: Cluster, kube_namespace: str, devcluster: Any) -> Lane:
    """The shop's namespace in a lane whose deployers are admin (who applies it) and
    tester-1; tester-2 may edit it (RBAC) but is not a deployer; the group oncall may
    break glass."""
    lane = Lane(
        name="controlled",
        namespaces=[kube_namespace],
        identities=["admin", "tester-1"],
        admission={"mode": "deny", "breakGlassGroups": ["oncall"]},
    )
    lane.full_clean()
    lane.save()
    scanner_cluster.lanes.add(lane)
    devcluster.kubectl("create", "rolebinding", "people-edit", "--clusterrole=edit",
                       "--user=tester-1", "--user=tester-2", "-n", kube_namespace)  # fmt: skip
    return lane


@pytest.fixture
def installed(
    devcluster: Any,
    shop_repo: Any,
    shop_policy: DriftPolicy,
    scanner_cluster: Cluster,
    kube_namespace: str,
    controlled: Lane,
    webhook: Webhook,
) -> Iterator[Webhook]:
    """The shop deployed and scanned (the webhook knows what Git manages), the webhook
    installed on test-a pointing at the process; uninstalled after."""
    apply_shop(devcluster, shop_repo, kube_namespace)
    scan(shop_policy, scanner_cluster)
    install(scanner_cluster, devcluster, webhook.url)
    try:
        yield webhook
    finally:
        uninstall(scanner_cluster, devcluster)


def admin(devcluster: Any) -> str:
    """Installing a webhook and labelling namespaces needs more than the scanner's
    read-mostly role: done with an administrator's kubeconfig, as an operator would."""
    return Path(devcluster.kubeconfig("admin")).read_text()


def install(cluster: Cluster, devcluster: Any, url: str) -> None:
    admission.install(cluster, url=url, actor="system:test", kubeconfig=admin(devcluster))


def uninstall(cluster: Cluster, devcluster: Any) -> None:
    admission.uninstall(cluster, actor="system:test", kubeconfig=admin(devcluster))


def set_image(
    devcluster: Any, namespace: str, image: str, *extra: str, user: str = "admin"
) -> subprocess.CompletedProcess[str]:
    return devcluster.kubectl("set", "image", "-n", namespace, "deployment/api",
                              f"api={image}", *extra, user=user, check=False)  # fmt: skip


def until_decided(devcluster: Any, namespace: str, user: str, expected: str) -> None:
    """Ask with a server-side dry run (decided alike, recorded nowhere) until the webhook
    answers as ``expected`` ("denied" or "Warning"): it refreshes lanes within seconds.
    The image differs from any set for real: kubectl sends nothing when nothing changes."""

    def answered() -> bool:
        done = set_image(devcluster, namespace, PROBE_IMAGE, "--dry-run=server", user=user)
        return expected in done.stderr

    wait_for(answered, 20)


def test_out_of_lane_changes_are_refused_warned_or_let_through_by_break_glass(
    devcluster, kube_namespace, installed, controlled, shop_policy
) -> None:
    until_decided(devcluster, kube_namespace, "tester-2", "denied")
    refused = set_image(devcluster, kube_namespace, OTHER_IMAGE, user="tester-2")
    assert refused.returncode != 0
    assert "lane.deployer" in refused.stderr and "denied the request" in refused.stderr
    assert "commit the change to Git" in refused.stderr

    deployer = set_image(devcluster, kube_namespace, OTHER_IMAGE, user="tester-1")
    assert deployer.returncode == 0, deployer.stderr

    controlled.admission = {"mode": "warn", "breakGlassGroups": ["oncall"]}
    controlled.save()
    until_decided(devcluster, kube_namespace, "tester-2", "Warning")
    warned = set_image(devcluster, kube_namespace, "registry.example/shop/api:2.0.2",
                       user="tester-2")  # fmt: skip
    assert warned.returncode == 0, warned.stderr
    assert "Warning: lane.deployer" in warned.stderr

    controlled.admission = {"mode": "deny", "breakGlassGroups": ["oncall"]}
    controlled.save()
    until_decided(devcluster, kube_namespace, "tester-2", "denied")
    broke_glass = set_image(
        devcluster, kube_namespace, "registry.example/shop/api:2.0.3",
        "--as=tester-2", "--as-group=oncall", "--as-group=system:authenticated",
    )  # fmt: skip
    assert broke_glass.returncode == 0, broke_glass.stderr
    assert "lane.break-glass" in broke_glass.stderr

    finding = wait_for(
        lambda: shop_policy.findings.open().filter(rule="lane.break-glass").first(), 20
    )
    assert finding.name == "api" and "tester-2" in finding.diff["message"]
    assert "oncall" in finding.diff["message"]

    decisions = wait_for(
        lambda: list(AdmissionDecision.objects.filter(user="tester-2").order_by("at")), 10
    )
    outcomes = [d.outcome for d in decisions]
    assert outcomes[0] == "deny" and {"warn", "break-glass"} <= set(outcomes)
    assert all(not d.dry_run for d in decisions)  # the dry runs were counted, not kept
    assert decisions[0].rules == ["lane.deployer"]


def test_a_stopped_webhook_lets_changes_through_and_the_watcher_says_so(
    devcluster, kube_namespace, installed, shop_policy
) -> None:
    until_decided(devcluster, kube_namespace, "tester-2", "denied")
    installed.stop()
    with watching():
        started = time.monotonic()
        passed = set_image(devcluster, kube_namespace, OTHER_IMAGE, user="tester-2")
        assert passed.returncode == 0, passed.stderr
        assert time.monotonic() - started < 2 + 3  # within the webhook's timeout, and kubectl

        def noted() -> Any:
            found = shop_policy.findings.open().filter(type="modified", name="api").first()
            notes = [e.get("admission", "") for e in (found.attribution if found else [])]
            return found if any("unavailable" in note for note in notes) else None

        finding = wait_for(noted, 20)
    assert "admitted while the admission webhook was unavailable" in str(finding.attribution)


def test_an_unsigned_image_is_refused_once_verified_and_an_unseen_one_let_through(
    devcluster, tmp_path, kube_namespace, scanner_cluster, oci_registry, webhook
) -> None:
    RegistryCredential.objects.create(host=oci_registry.host, ca_pem=oci_registry.ca_pem)
    shop = Shop(oci_registry)
    lane = supply_lane(scanner_cluster, kube_namespace, shop)
    lane.admission = {"mode": "deny"}
    lane.save()
    signed, digest = shop.image("signed")
    shop.sign("signed", digest)
    shop.attest("signed", digest)
    unsigned, _ = shop.image("unsigned")
    policy = deployed(tmp_path, devcluster, kube_namespace, {"signed": signed})
    scan(policy, scanner_cluster)
    install(scanner_cluster, devcluster, webhook.url)
    try:
        # Never seen: let through at once (nothing is looked up while the API server
        # waits), and queued; the scan then finds it unsigned.
        first = devcluster.kubectl("create", "deployment", "unsigned", f"--image={unsigned}",
                                   "-n", kube_namespace, check=False)  # fmt: skip
        assert first.returncode == 0, first.stderr
        scan(policy, scanner_cluster)
        assert policy.findings.open().filter(rule="supply.unsigned", name="unsigned").exists()

        def refused() -> subprocess.CompletedProcess[str] | None:
            again = devcluster.kubectl("create", "deployment", "unsigned-again",
                                       f"--image={unsigned}", "-n", kube_namespace,
                                       check=False)  # fmt: skip
            return again if again.returncode != 0 else None

        answer = wait_for(refused, 20)
        assert "supply.unsigned" in answer.stderr and "denied the request" in answer.stderr
        # The signed and attested image still goes through.
        ok = devcluster.kubectl("create", "deployment", "signed-again", f"--image={signed}",
                                "-n", kube_namespace, check=False)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
    finally:
        uninstall(scanner_cluster, devcluster)


def test_credentials_for_another_cluster_install_nothing(
    devcluster, devcluster_b, scanner_cluster, settings
) -> None:
    settings.ADMISSION_WEBHOOK_NAME = f"dc-admission-{uuid.uuid4().hex[:8]}"
    elsewhere = Path(devcluster_b.kubeconfig("admin")).read_text()

    with pytest.raises(admission.InstallError, match="not cluster test-a's"):
        admission.install(scanner_cluster, url="https://127.0.0.1:9443", kubeconfig=elsewhere)

    assert not scanner_cluster.admission_installations.exists()
    for cluster in (devcluster, devcluster_b):
        found = cluster.kubectl("get", "validatingwebhookconfigurations", "-o", "name")
        assert settings.ADMISSION_WEBHOOK_NAME not in found.stdout
