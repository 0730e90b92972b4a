"""Deployer identity on the local API server: its audit feed (kube-apiserver's webhook
backend, configured by scripts/devcluster) reaches /hooks/audit/<cluster>, and the watcher
names the user behind an out-of-lane `kubectl edit` or `kubectl scale` within seconds."""

from __future__ import annotations

import fcntl
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler, _StaticFilesHandler

from alignment import audit_feed
from alignment.models import KubeWrite
from drift.models import Cluster, DriftPolicy, Lane
from tests.integration.conftest import apply_shop, watching
from tests.integration.test_detection import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class FeedServer(LiveServerThread):
    """Django's live server on a fixed port over TLS (the API server sends the feed's
    token over TLS only), reusable at once: earlier batches leave connections in
    TIME_WAIT there."""

    tls: tuple[str, str]

    def _create_server(self, connections_override=None):  # type: ignore[no-untyped-def]
        server = self.server_class(
            (self.host, self.port),
            QuietWSGIRequestHandler,
            allow_reuse_address=True,
            connections_override=connections_override,
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*self.tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        return server


@pytest.fixture
def audit_server(devcluster, scanner_cluster: Cluster) -> Iterator[FeedServer]:
    """DriftControl listening where test-a's API server sends its audit feed, with the
    token the API server presents. One test at a time holds the port (xdist workers)."""
    lock_path = Path(tempfile.gettempdir()) / f"driftcontrol-audit-{devcluster.audit_port}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        audit_feed.adopt_token(scanner_cluster, devcluster.audit_token(), "system:test")
        server = FeedServer("127.0.0.1", _StaticFilesHandler, port=devcluster.audit_port)
        server.tls = devcluster.audit_tls()
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield server
        finally:
            server.terminate()


@pytest.fixture
def controlled(scanner_cluster: Cluster, kube_namespace: str) -> Lane:
    """The shop's namespace in a lane whose deployers are admin (who applies it) and
    tester-1; tester-2 and tester-3 may edit it (RBAC) but are not its deployers."""
    lane = Lane.objects.create(
        name="controlled", namespaces=[kube_namespace], identities=["admin", "tester-1"]
    )
    scanner_cluster.lanes.add(lane)
    return lane


def edit(devcluster, namespace: str, target: str, user: str, replace: str) -> None:
    """`kubectl edit` as ``user``, its editor rewriting the YAML it is given."""
    devcluster.kubectl("edit", "-n", namespace, target, user=user,
                       env={"KUBE_EDITOR": f"sed -i {replace}"})  # fmt: skip


def deployer_finding(policy: DriftPolicy, name: str):  # type: ignore[no-untyped-def]
    return policy.findings.open().filter(rule="lane.deployer", name=name).first()


def opened(policy: DriftPolicy, name: str):  # type: ignore[no-untyped-def]
    """The lane.deployer finding on ``name`` within 20 s; else what the feed recorded."""
    try:
        return wait_for(lambda: deployer_finding(policy, name), 20)
    except AssertionError:
        recorded = list(KubeWrite.objects.values_list("user", "verb", "resource", "name"))
        raise AssertionError(f"no lane.deployer finding on {name}; writes: {recorded}") from None


def test_an_out_of_lane_edit_and_scale_name_the_user_and_the_deployers_edit_does_not(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, controlled, audit_server
) -> None:
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("create", "rolebinding", "people-edit", "--clusterrole=edit",
                       "--user=tester-1", "--user=tester-2", "-n", kube_namespace)  # fmt: skip
    with watching():
        edited_at = time.monotonic()
        edit(devcluster, kube_namespace, "deployment/api", "tester-2",
             "s#registry.example/shop/api:2.0.0#registry.example/shop/api:2.0.2#")  # fmt: skip
        finding = opened(shop_policy, "api")
        assert time.monotonic() - edited_at < 20
        assert finding.type == "alignment" and finding.severity == "high"
        message = finding.diff["message"]
        assert "was changed by tester-2 (patch through kubectl-edit, " in message
        assert "in lane controlled" in message

        devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=3",
                           user="tester-2")  # fmt: skip
        scaled = opened(shop_policy, "web")
        assert "was changed by tester-2 (" in scaled.diff["message"]
        assert " of scale" in scaled.diff["message"]

        # The lane's own deployer puts web back: its finding resolves, and tester-1's
        # edit of api's image ends the out-of-lane episode there too.
        devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=2",
                           user="tester-1")  # fmt: skip
        wait_for(lambda: deployer_finding(shop_policy, "web") is None or None, 20)
        edit(devcluster, kube_namespace, "deployment/api", "tester-1",
             "s#registry.example/shop/api:2.0.2#registry.example/shop/api:2.0.0#")  # fmt: skip
        wait_for(lambda: deployer_finding(shop_policy, "api") is None or None, 20)

    users = set(KubeWrite.objects.filter(cluster=scanner_cluster).values_list("user", flat=True))
    assert {"admin", "tester-1", "tester-2"} <= users
