"""Drift detection against the local API server: the corpus, real edits, real RBAC."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kubernetes import client

from drift.models import Cluster, FindingStatus, UndeclaredFields
from drift.services import scanning
from tests.integration.conftest import apply_shop, findings, scan, watching

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
CONTAINER = "/spec/template/spec/containers/0"
UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: x, user: {token: t}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
current-context: x
"""


@pytest.mark.parametrize("server_side", [False, True], ids=["kubectl-apply", "server-side"])
def test_the_applied_corpus_has_no_drift(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, server_side
):
    apply_shop(devcluster, shop_repo, kube_namespace, server_side)

    done = scan(shop_policy, scanner_cluster)

    assert (done.partial, done.problems) == (False, [])
    assert done.revision == shop_repo.git("rev-parse", "HEAD")
    assert done.objects_desired == 49
    assert findings(shop_policy) == {}


def kubectl_patch(devcluster, namespace, kind, name, patch):
    args = ["patch", "-n", namespace, kind, name, "--type=json", "-p", json.dumps(patch)]
    devcluster.kubectl(*args)


def test_edits_people_make_are_found_with_path_severity_and_attribution(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns = kube_namespace
    apply_shop(devcluster, shop_repo, ns)
    devcluster.kubectl(
        "set", "image", "-n", ns, "deployment/frontend", "server=evil.example/frontend:6.6.6"
    )
    devcluster.kubectl("scale", "-n", ns, "deployment/web", "--replicas=5")
    kubectl_patch(
        devcluster,
        ns,
        "deployment",
        "emailservice",
        [{"op": "replace", "path": f"{CONTAINER}/env/0/value", "value": "9999"}],
    )
    devcluster.kubectl("delete", "-n", ns, "service/redis-cart")
    kubectl_patch(
        devcluster, ns, "deployment", "web", [{"op": "remove", "path": f"{CONTAINER}/ports/1"}]
    )
    kubectl_patch(
        devcluster,
        ns,
        "rolebinding",
        "deployers",
        [
            {
                "op": "add",
                "path": "/subjects/-",
                "value": {
                    "kind": "User",
                    "name": "mallory",
                    "apiGroup": "rbac.authorization.k8s.io",
                },
            }
        ],
    )

    scan(shop_policy, scanner_cluster)

    found = {
        key: (f.severity, f.diff["paths"], [a["manager"] for a in f.attribution])
        for key, f in findings(shop_policy).items()
    }
    assert found == {
        ("Deployment", "frontend", "modified"): ("high", [f"{CONTAINER}/image"], ["kubectl-set"]),
        # Neither change is recorded in managedFields: a scale goes through the scale
        # subresource, and a patch that only removes an item leaves its author owning nothing.
        ("Deployment", "web", "modified"): ("medium", ["/spec/replicas", f"{CONTAINER}/ports"], []),
        ("Deployment", "emailservice", "modified"): (
            "high",
            [f"{CONTAINER}/env/0/value"],
            ["kubectl-patch"],
        ),
        ("Service", "redis-cart", "missing"): ("medium", [], []),
        ("RoleBinding", "deployers", "modified"): ("critical", ["/subjects"], ["kubectl-patch"]),
    }
    web = findings(shop_policy)["Deployment", "web", "modified"]
    by_path = {f["path"]: f for f in web.diff["fields"]}
    assert by_path["/spec/replicas"]["managers"] == []  # the scale subresource is untracked
    assert by_path[f"{CONTAINER}/ports"]["missingItems"] == [
        {"name": "metrics", "containerPort": 9090}
    ]
    frontend = findings(shop_policy)["Deployment", "frontend", "modified"]
    assert frontend.drift_started_at is not None
    assert frontend.diff["patch"] == [
        {
            "op": "replace",
            "path": f"{CONTAINER}/image",
            "value": "gcr.io/google-samples/microservices-demo/frontend:v0.7.0",
        }
    ]


def add_live_changes_nobody_declared(devcluster, namespace):
    devcluster.kubectl("label", "-n", namespace, "deployment/adservice", "team=payments")
    devcluster.kubectl("set", "env", "-n", namespace, "deployment/adservice", "EXTRA=1")
    devcluster.kubectl("scale", "-n", namespace, "deployment/api", "--replicas=4")
    sidecar = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "proxy", "image": "mesh.example/proxy:1.0"}]}
            }
        }
    }
    with devcluster.client() as api:
        client.AppsV1Api(api).patch_namespaced_deployment(
            "cartservice", namespace, sidecar, field_manager="sidecar-injector"
        )


def test_what_git_does_not_declare_is_not_drift_by_default(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    add_live_changes_nobody_declared(devcluster, kube_namespace)

    scan(shop_policy, scanner_cluster)

    assert findings(shop_policy) == {}


def test_undeclared_fields_are_reported_when_the_policy_asks(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    add_live_changes_nobody_declared(devcluster, kube_namespace)
    shop_policy.undeclared_fields = UndeclaredFields.REPORT
    shop_policy.trusted_managers = ["sidecar-injector"]
    shop_policy.save()

    scan(shop_policy, scanner_cluster)

    adservice = findings(shop_policy)["Deployment", "adservice", "modified"]
    by_path = {f["path"]: f for f in adservice.diff["fields"]}
    assert set(by_path) == {"/metadata/labels/team", f"{CONTAINER}/env/1"}
    label = by_path["/metadata/labels/team"]
    assert (label["op"], label["severity"], label["managers"][0]["manager"]) == (
        "undeclared",
        "low",
        "kubectl-label",
    )
    assert by_path[f"{CONTAINER}/env/1"]["managers"][0]["manager"] == "kubectl-set"
    assert by_path[f"{CONTAINER}/env/1"]["severity"] == "high"  # a default rule ranks env high
    # The trusted sidecar injector and the autoscaled replicas stay quiet.
    assert set(findings(shop_policy)) == {("Deployment", "adservice", "modified")}


def test_a_field_removed_in_git_but_still_live_is_one_modified_finding(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    shop = (shop_repo.path / "k8s" / "shop.yaml").read_text()
    shop_repo.write("k8s/shop.yaml", shop.replace("        - {name: LOG_LEVEL, value: info}\n", ""))
    shop_repo.commit("drop LOG_LEVEL")

    scan(shop_policy, scanner_cluster)

    web = findings(shop_policy)
    assert list(web) == [("Deployment", "web", "modified")]
    fields = web["Deployment", "web", "modified"].diff["fields"]
    assert [(f["path"], f["op"]) for f in fields] == [(f"{CONTAINER}/env/1", "removed")]


def test_findings_resolve_when_drift_is_undone_and_count_again_when_it_returns(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=5")
    scan(shop_policy, scanner_cluster)
    first = findings(shop_policy)["Deployment", "web", "modified"]

    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=2")
    scan(shop_policy, scanner_cluster)
    first.refresh_from_db()
    assert (first.status, first.resolved_at is not None) == (FindingStatus.RESOLVED, True)

    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=7")
    scan(shop_policy, scanner_cluster)
    again = findings(shop_policy)["Deployment", "web", "modified"]
    assert again.pk != first.pk
    assert again.occurrences == 2


def test_a_kind_the_identity_may_not_list_makes_the_scan_partial_not_missing(
    devcluster, shop_repo, shop_policy, kube_namespace, make_kube_namespace
):
    """tester-1 may read everything the shop uses except NetworkPolicies."""
    apply_shop(devcluster, shop_repo, kube_namespace)
    grant_reader_without_network_policies(devcluster, kube_namespace)
    denied = Cluster(name="denied")
    denied.set_credentials(Path(devcluster.kubeconfig("tester-1")).read_text())
    denied.save()
    shop_policy.cluster_names = ["denied"]
    shop_policy.save()
    devcluster.kubectl("delete", "-n", kube_namespace, "networkpolicy/frontend")

    done = scan(shop_policy, denied)

    assert done.partial
    assert any("NetworkPolicy" in problem and "403" in problem for problem in done.problems)
    assert [k for k in findings(shop_policy) if k[0] == "NetworkPolicy"] == []


def grant_reader_without_network_policies(devcluster, namespace):
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "reader", "namespace": namespace},
        "rules": [
            {
                "apiGroups": ["", "apps", "autoscaling", "rbac.authorization.k8s.io"],
                "resources": ["*"],
                "verbs": ["get", "list", "watch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "reader", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "tester-1"}],
    }
    with devcluster.client() as api:
        rbac = client.RbacAuthorizationV1Api(api)
        rbac.create_namespaced_role(namespace, role)
        rbac.create_namespaced_role_binding(namespace, binding)


def test_a_manifest_that_does_not_parse_is_partial_and_its_objects_are_unknown(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl("scale", "-n", kube_namespace, "deployment/web", "--replicas=5")
    scan(shop_policy, scanner_cluster)
    assert ("Deployment", "web", "modified") in findings(shop_policy)
    devcluster.kubectl("delete", "-n", kube_namespace, "deployment/web")
    shop_repo.write(
        "k8s/shop.yaml",
        (shop_repo.path / "k8s/shop.yaml").read_text() + "---\nthis: [is not yaml\n",
    )
    shop_repo.commit("a typo")

    done = scan(shop_policy, scanner_cluster)

    assert done.partial
    assert any(p.startswith("k8s/shop.yaml:") and "invalid YAML" in p for p in done.problems)
    # web is deleted live, but its file is unreadable: no "missing", and the open finding
    # is not resolved on incomplete evidence.
    assert set(findings(shop_policy)) == {("Deployment", "web", "modified")}


@pytest.mark.django_db(transaction=True)
def test_the_watcher_records_a_live_change_within_seconds(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    with watching():
        changed_at = time.monotonic()
        devcluster.kubectl(
            "set", "image", "-n", kube_namespace, "deployment/web", "web=evil.example/web:6.6.6"
        )
        finding = wait_for(lambda: shop_policy.findings.open().filter(name="web").first(), 15)
        assert finding.diff["paths"] == [f"{CONTAINER}/image"]
        assert finding.last_scan_id is None  # no scan was involved
        assert time.monotonic() - changed_at < 15

        devcluster.kubectl(
            "set",
            "image",
            "-n",
            kube_namespace,
            "deployment/web",
            "web=registry.example/shop/web:1.4.2",
        )
        wait_for(lambda: not shop_policy.findings.open().filter(name="web").exists() or None, 15)


def wait_for(probe, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing after {seconds} s")


def test_a_scan_that_cannot_reach_the_cluster_fails_and_changes_nothing(
    shop_policy, scanner_cluster
):
    scanner_cluster.set_credentials(UNREACHABLE_KUBECONFIG)
    scanner_cluster.save()

    queued, _ = scanning.request(shop_policy, scanner_cluster, enqueue=False)
    done = scanning.run(queued.pk)

    done.refresh_from_db()
    assert done.status == "failed"
    assert "127.0.0.1:1" in done.error
    scanner_cluster.refresh_from_db()
    assert scanner_cluster.last_error
    assert findings(shop_policy) == {}
