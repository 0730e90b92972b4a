"""`drift admission install` against the real API server: the configuration it accepts and
stores field by field, the labels on lane namespaces only, idempotent re-installs, a scan
labelling a lane namespace created afterwards, uninstall taking both away; and with no
webhook answering, a change goes through (fail open) and its drift finding says so.

test-a is shared by parallel tests: each test installs under a configuration name of its
own (the label value its selector matches), so it only ever matches its own namespaces,
and uninstalls when it ends.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from alignment import annotating, lane_labels
from alignment.admission import authority, install
from alignment.models import AdmissionInstallation, AdmissionServer
from drift.models import Cluster, Lane
from drift.services import clusters
from driftcontrol.models import AuditEvent
from tests.integration.conftest import findings, scan, watching
from tests.integration.test_detection import wait_for

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
# Nothing listens there: the API server's calls fail at once, and fail open.
NOBODY = "https://127.0.0.1:9"


@pytest.fixture
def webhook_name(settings) -> str:
    name = f"dc-test-{uuid.uuid4().hex[:10]}"
    settings.ADMISSION_WEBHOOK_NAME = name
    settings.ADMISSION_PUBLIC_URL = NOBODY
    settings.ADMISSION_TIMEOUT_SECONDS = 2
    return name


@pytest.fixture
def admin_cluster(db: None, devcluster, webhook_name: str) -> Iterator[Cluster]:
    """test-a as its admin (installing a webhook takes cluster-wide rights), uninstalled
    after the test whatever happened."""
    cluster = Cluster(name="test-a")
    cluster.set_credentials(Path(devcluster.kubeconfig("admin")).read_text())
    cluster.save()
    try:
        yield cluster
    finally:
        install.uninstall(cluster, "system:test")
        devcluster.kubectl(
            "delete", "validatingwebhookconfiguration", webhook_name, "--ignore-not-found"
        )


@pytest.fixture
def prefix() -> str:
    return f"adm{uuid.uuid4().hex[:6]}"


def configuration(devcluster, name: str) -> dict:
    found = devcluster.kubectl("get", "validatingwebhookconfiguration", name, "-o", "json")
    return json.loads(found.stdout)


def labels(devcluster, namespace: str) -> dict[str, str]:
    found = devcluster.kubectl("get", "namespace", namespace, "-o", "json")
    everything = json.loads(found.stdout)["metadata"].get("labels") or {}
    return {k: v for k, v in everything.items() if k.startswith("driftcontrol.io/")}


def test_install_writes_a_configuration_the_api_server_keeps_as_written(
    devcluster, admin_cluster, webhook_name, make_kube_namespace, prefix
):
    shop, sandbox, other = (make_kube_namespace(prefix=prefix) for _ in range(3))
    controlled = Lane.objects.create(name="controlled", namespaces=[shop])
    fast = Lane.objects.create(name="fast", namespaces=[sandbox])
    admin_cluster.lanes.add(controlled, fast)

    done = install.install(admin_cluster, mode="deny", actor="system:test")

    stored = configuration(devcluster, webhook_name)
    (webhook,) = stored["webhooks"]
    expected = install.configuration(
        webhook_name, f"{NOBODY}/validate/test-a", authority.ca_bundle()
    )["webhooks"][0]
    assert webhook["name"] == "lanes.admission.driftcontrol.io"
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["timeoutSeconds"] == 2
    assert webhook["sideEffects"] == "None"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["clientConfig"]["url"] == f"{NOBODY}/validate/test-a"
    ca = base64.b64decode(webhook["clientConfig"]["caBundle"]).decode()
    assert ca == authority.ca_bundle() and "BEGIN CERTIFICATE" in ca
    assert webhook["rules"] == expected["rules"]
    assert webhook["namespaceSelector"] == expected["namespaceSelector"]
    assert webhook["objectSelector"] == {}  # the server's default: every object
    assert stored["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "driftcontrol"}

    assert labels(devcluster, shop) == {
        "driftcontrol.io/admission": webhook_name,
        "driftcontrol.io/lane": "controlled",
    }
    assert labels(devcluster, sandbox) == {
        "driftcontrol.io/admission": webhook_name,
        "driftcontrol.io/lane": "fast",
    }
    assert labels(devcluster, other) == {}
    assert labels(devcluster, "kube-system") == {}
    assert done.plan.matched == {shop: "controlled", sandbox: "fast"}

    (row,) = AdmissionInstallation.objects.filter(cluster=admin_cluster)
    assert (row.name, row.url, row.mode, row.removed_at) == (
        webhook_name, f"{NOBODY}/validate/test-a", "deny", None
    )  # fmt: skip
    assert row.namespaces == sorted([shop, sandbox])
    assert row.installed_by == "system:test"
    assert AuditEvent.objects.filter(action="admission.installed", object_id=str(row.pk)).exists()


def test_reinstalling_is_idempotent_and_follows_the_lanes(
    devcluster, admin_cluster, webhook_name, make_kube_namespace, prefix
):
    shop, sandbox = make_kube_namespace(prefix=prefix), make_kube_namespace(prefix=prefix)
    controlled = Lane.objects.create(name="controlled", namespaces=[shop])
    fast = Lane.objects.create(name="fast", namespaces=[sandbox])
    admin_cluster.lanes.add(controlled, fast)
    install.install(admin_cluster, actor="system:test")
    first = configuration(devcluster, webhook_name)["metadata"]["resourceVersion"]
    (opened,) = AdmissionInstallation.objects.filter(cluster=admin_cluster)

    again = install.install(admin_cluster, actor="system:test")

    # Nothing changed in the cluster, and the same row stays open.
    assert configuration(devcluster, webhook_name)["metadata"]["resourceVersion"] == first
    assert again.plan.label == {} and again.plan.unlabel == ()
    assert list(AdmissionInstallation.objects.filter(cluster=admin_cluster)) == [opened]

    # sandbox leaves its lane; the mode becomes warn: a new row, the previous one closed.
    fast.namespaces = []
    fast.save()
    warned = install.install(admin_cluster, mode="warn", actor="system:test")

    assert labels(devcluster, sandbox) == {}
    assert labels(devcluster, shop)["driftcontrol.io/lane"] == "controlled"
    assert warned.plan.unlabel == (sandbox,)
    opened.refresh_from_db()
    assert opened.removed_at is not None
    assert warned.installation.pk != opened.pk
    assert (warned.installation.mode, warned.installation.namespaces) == ("warn", [shop])
    assert warned.installation.installed_at >= opened.removed_at


def test_a_scan_labels_a_lane_namespace_created_after_the_install(
    devcluster, admin_cluster, webhook_name, make_kube_namespace, prefix, checkout_policy
):
    first = make_kube_namespace(prefix=prefix)
    lane = Lane.objects.create(name="controlled", namespaces=[f"{prefix}-*"])
    admin_cluster.lanes.add(lane)
    install.install(admin_cluster, actor="system:test")
    later = make_kube_namespace(prefix=prefix)
    assert labels(devcluster, later) == {}

    scan(checkout_policy, admin_cluster)

    assert labels(devcluster, later) == {
        "driftcontrol.io/admission": webhook_name,
        "driftcontrol.io/lane": "controlled",
    }
    installed = install.active(admin_cluster)
    assert installed is not None and installed.namespaces == sorted([first, later])
    assert AuditEvent.objects.filter(action="admission.namespaces_labelled").exists()
    # Labelled already: the next keeps them as they are.
    kept = lane_labels.keep(admin_cluster, clusters.connect(admin_cluster))
    assert kept is not None and not kept.changes


def test_uninstall_removes_the_configuration_and_the_labels(
    devcluster, admin_cluster, webhook_name, make_kube_namespace, prefix
):
    shop = make_kube_namespace(prefix=prefix)
    admin_cluster.lanes.add(Lane.objects.create(name="controlled", namespaces=[shop]))
    install.install(admin_cluster, actor="system:test")

    done = install.uninstall(admin_cluster, "system:test")

    assert done.removed and done.unlabelled == (shop,)
    missing = devcluster.kubectl("get", "validatingwebhookconfiguration", webhook_name, check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr
    assert labels(devcluster, shop) == {}
    assert install.active(admin_cluster) is None
    assert done.installation is not None and done.installation.removed_at is not None

    twice = install.uninstall(admin_cluster, "system:test")

    assert (twice.removed, twice.unlabelled, twice.installation) == (False, (), None)


def test_with_no_webhook_answering_a_change_goes_through_and_its_finding_says_so(
    devcluster, admin_cluster, webhook_name, checkout_repo, checkout_policy, kube_namespace
):
    lane = Lane.objects.create(
        name="controlled", namespaces=[kube_namespace], admission={"mode": "deny"}
    )
    admin_cluster.lanes.add(lane)
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(checkout_repo.path / "k8s"))
    install.install(admin_cluster, actor="system:test")
    # A server ran until a moment ago, then stopped.
    stopped = timezone.now() - timedelta(seconds=3)
    AdmissionInstallation.objects.filter(name=webhook_name).update(
        installed_at=stopped - timedelta(minutes=5)
    )
    AdmissionServer.objects.create(
        address="127.0.0.1:9", started_at=stopped - timedelta(minutes=5), seen_at=stopped,
        stopped_at=stopped,
    )  # fmt: skip
    annotating.forget()

    began = time.monotonic()
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/checkout",
        "checkout=registry.example/shop/checkout:9.9.9",
    )  # fmt: skip
    # The API server found nobody at the webhook's address and let the change through.
    assert time.monotonic() - began < 10

    scan(checkout_policy, admin_cluster)

    finding = findings(checkout_policy)[("Deployment", "checkout", "modified")]
    (noted,) = [entry for entry in finding.attribution if "admission" in entry]
    assert noted["manager"] == "kubectl-set"
    assert noted["admission"] == (
        "admitted while the admission webhook was unavailable "
        f"(no answer since {stopped:%H:%M:%S} UTC)"
    )


@pytest.mark.django_db(transaction=True)  # the watcher's threads read what the test wrote
def test_the_watchers_finding_on_a_change_let_through_says_the_webhook_was_down(
    devcluster, admin_cluster, webhook_name, checkout_repo, checkout_policy, kube_namespace
):
    lane = Lane.objects.create(
        name="controlled", namespaces=[kube_namespace], admission={"mode": "deny"}
    )
    admin_cluster.lanes.add(lane)
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(checkout_repo.path / "k8s"))
    install.install(admin_cluster, actor="system:test")  # and no `drift admission serve`
    installed_at = install.active(admin_cluster).installed_at
    annotating.forget()

    with watching():
        time.sleep(1.1)  # managedFields times are whole seconds: after the install's
        devcluster.kubectl(
            "set", "image", "-n", kube_namespace, "deployment/checkout",
            "checkout=registry.example/shop/checkout:9.9.9",
        )  # fmt: skip
        finding = wait_for(
            lambda: checkout_policy.findings.open().filter(name="checkout", kind="Deployment")
            .exclude(attribution=[]).first(),
            15,
        )  # fmt: skip

    assert finding.last_scan_id is None  # the watcher's, not a scan's
    (noted,) = [entry for entry in finding.attribution if "admission" in entry]
    assert noted["manager"] == "kubectl-set"
    assert noted["admission"] == (
        "admitted while the admission webhook was unavailable "
        f"(no answer since it was installed at {installed_at:%H:%M:%S} UTC)"
    )


def test_an_identity_that_may_not_write_webhooks_is_told_so_and_nothing_is_recorded(
    devcluster, scanner_cluster, webhook_name
):
    with pytest.raises(install.InstallRefused) as refused:
        install.install(scanner_cluster, actor="system:test")

    said = str(refused.value)
    assert said.startswith(
        f"cluster test-a refused to install the admission webhook: writing "
        f"ValidatingWebhookConfiguration {webhook_name}: PATCH "
    )
    assert "403 Forbidden" in said and "driftcontrol-scanner" in said
    assert refused.value.status == 403
    assert not AdmissionInstallation.objects.exists()
