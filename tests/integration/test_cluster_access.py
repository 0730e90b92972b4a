"""The connection and permission test against the real API server: what an identity lacks
is named verb by verb, and every way of not getting that far says why in one sentence."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import reverse
from kubernetes import client

from drift.services import access
from tests.factories import DriftPolicyFactory
from tests.plugins.devcluster import DevCluster

pytestmark = [pytest.mark.kube, pytest.mark.django_db]


def kubeconfig(devcluster: DevCluster, user: str = "admin", **cluster: Any) -> str:
    """The user's kubeconfig, its cluster entry changed by ``cluster`` (server, CA)."""
    config = yaml.safe_load(Path(devcluster.kubeconfig(user)).read_text())
    config["clusters"][0]["cluster"].update(cluster)
    return yaml.safe_dump(config, sort_keys=False)


def grant(devcluster: DevCluster, namespace: str, user: str, rules: list[Any]) -> None:
    """A Role with ``rules`` in the namespace, bound to ``user``."""
    with devcluster.client() as api:
        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(
            namespace, client.V1Role(metadata=client.V1ObjectMeta(name=user), rules=rules)
        )
        rbac.create_namespaced_role_binding(
            namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name=user),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=user
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="User", name=user, api_group="rbac.authorization.k8s.io"
                    )
                ],
            ),
        )


def settled(check: Any, until: Any, timeout: float = 10) -> access.AccessReport:
    """The report once a new RoleBinding has taken effect (the authorizer's cache)."""
    deadline = time.monotonic() + timeout
    while True:
        report = check()
        if until(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.3)


def test_an_admin_identity_can_do_everything(devcluster: DevCluster) -> None:
    report = access.check(kubeconfig(devcluster))

    assert report.problem == ""
    assert report.verdict == "full", report.missing_read + report.missing_write
    assert report.server == devcluster.server
    assert report.version.startswith("v1.20")
    assert report.checked == ["namespaces", "configmaps", "services", "deployments.apps"]
    assert report.where == "across all namespaces"


def test_a_read_only_identity_is_named_as_lacking_every_write(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    # Scans of this policy list its one namespace, so that is where rights are asked.
    DriftPolicyFactory(cluster_names=["test-a"], namespaces={"include": [kube_namespace]})
    grant(
        devcluster,
        kube_namespace,
        "tester-1",
        [
            client.V1PolicyRule(
                api_groups=["", "apps"],
                resources=["configmaps", "services", "deployments"],
                verbs=["get", "list", "watch"],
            )
        ],
    )

    report = settled(
        lambda: access.check(kubeconfig(devcluster, "tester-1"), cluster="test-a"),
        lambda r: not r.missing_read,
    )

    assert report.verdict == "read-only"
    assert report.summary == "Read-only identity: detection works, remediation will fail."
    assert report.where == f"in namespace {kube_namespace}"
    lacking = [str(gap) for gap in report.missing_write]
    assert f"cannot patch deployments.apps in namespace {kube_namespace}" in lacking
    assert f"cannot delete configmaps in namespace {kube_namespace}" in lacking
    assert len(lacking) == 3 * len(access.WRITE_VERBS)


def test_an_identity_that_cannot_watch_is_told_scans_will_fail(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    DriftPolicyFactory(cluster_names=["test-a"], namespaces={"include": [kube_namespace]})
    everything_but_watch = client.V1PolicyRule(
        api_groups=["", "apps"],
        resources=["configmaps", "services", "deployments"],
        verbs=["get", "list", "patch", "update", "create", "delete"],
    )
    grant(devcluster, kube_namespace, "tester-2", [everything_but_watch])

    report = settled(
        lambda: access.check(kubeconfig(devcluster, "tester-2"), cluster="test-a"),
        lambda r: not r.missing_write,
    )

    assert report.verdict == "cannot-read"
    assert report.summary == "Cannot read: scans will fail."
    assert [str(gap) for gap in report.missing_read] == [
        f"cannot watch {name} in namespace {kube_namespace}"
        for name in ("configmaps", "services", "deployments.apps")
    ]
    assert report.missing_write == []


def test_an_identity_without_rights_lacks_reading_across_the_cluster(
    devcluster: DevCluster,
) -> None:
    report = access.check(kubeconfig(devcluster, "tester-3"))

    assert report.verdict == "cannot-read"
    lacking = {str(gap) for gap in report.missing_read}
    assert {"cannot list namespaces", "cannot watch deployments.apps"} <= lacking
    assert "cannot patch deployments.apps" in {str(gap) for gap in report.missing_write}


def test_an_address_nothing_listens_on_says_so(devcluster: DevCluster) -> None:
    report = access.check(kubeconfig(devcluster, server="https://127.0.0.1:1"))

    assert report.verdict == "unreachable"
    assert report.problem.startswith("https://127.0.0.1:1 refused the connection")


def test_a_server_certificate_the_kubeconfig_does_not_trust_fails_tls(
    devcluster: DevCluster, devcluster_b: DevCluster
) -> None:
    other_ca = yaml.safe_load(Path(devcluster_b.kubeconfig()).read_text())["clusters"][0]
    text = kubeconfig(
        devcluster,
        **{"certificate-authority-data": other_ca["cluster"]["certificate-authority-data"]},
    )

    report = access.check(text)

    assert report.problem.startswith(f"TLS with {devcluster.server} failed")


def test_credentials_the_server_does_not_know_are_a_401(devcluster: DevCluster) -> None:
    config = yaml.safe_load(kubeconfig(devcluster))
    config["users"][0]["user"] = {"token": "not-a-token-of-this-cluster"}

    report = access.check(yaml.safe_dump(config))

    assert "refused the kubeconfig's credentials (401 Unauthorized)" in report.problem


def test_the_dashboard_tests_a_pasted_kubeconfig_against_the_cluster(
    client: Any, admin_user: Any, devcluster: DevCluster
) -> None:
    client.force_login(admin_user)

    panel = client.post(
        reverse("cluster-connection-test"),
        {"name": "test-a", "kubeconfig": kubeconfig(devcluster, "driftcontrol-scanner")},
        headers={"HX-Request": "true"},
    ).content.decode()

    # The least-privilege identity made for DriftControl has what it needs, and no more.
    assert "Detection and remediation will work." in panel
    assert devcluster.server in panel and "v1.20" in panel
