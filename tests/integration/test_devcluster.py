"""The local Kubernetes 1.20 clusters of scripts/devcluster behave like a real cluster.

These tests pin down what DriftControl relies on from its development and test
clusters: server-side apply with field managers, watches, CRDs (which crash
without the reflect2 fix in the build), RBAC identities, two independent
clusters, a working controller-manager, and the manifest corpus applying
cleanly both server-side and with kubectl's client-side apply.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import DynamicApiError

from tests.plugins.devcluster import SCRIPT, DevCluster

pytestmark = pytest.mark.kube

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT / "tests" / "corpus"
# The published manifests (tests/corpus/external holds other projects' live/desired test
# pairs, read by the engine's tests, not objects to apply).
CORPUS_FILES = sorted(
    p for p in [*CORPUS.rglob("*.yaml"), *CORPUS.rglob("*.yml")] if "external" not in p.parts
)
KUBE_VERSION = "v1.20.2"


def wait_until(
    what: str, check: Callable[[], Any], timeout: float = 60, interval: float = 0.5
) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def status_of(call: Callable[[], Any]) -> int:
    """HTTP status of an API call: 200 if it succeeds, else the error's status."""
    try:
        call()
    except ApiException as exc:
        return exc.status
    return 200


def corpus_documents(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        # Empty documents (podinfo's `---` twice) load as None.
        return [doc for doc in yaml.safe_load_all(fh) if doc]


def in_apply_form(devcluster: DevCluster, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as DriftControl sends it with server-side apply (drift.engine.apply_form,
    from the server's own schema): Kubernetes 1.20 refuses port lists whose items omit
    ``protocol`` (a key of those lists, with no default in its schema; kubernetes#92332)
    and quantities written as numbers."""
    from drift import kube
    from drift.engine.apply_form import apply_form
    from drift.services import schemas

    admin = kube.Kube(Path(devcluster.kubeconfig("admin")).read_text())
    return apply_form(doc, schemas.apply_schema(admin))


# --------------------------------------------------------------------------- cluster basics


def test_clusters_report_version_1_20_2(devclusters) -> None:
    for cluster in devclusters.values():
        with cluster.client() as api:
            assert client.VersionApi(api).get_code().git_version == KUBE_VERSION


def test_kubeconfigs_verify_the_server_with_the_cluster_ca(devcluster: DevCluster) -> None:
    for user in ("admin", "driftcontrol-scanner", "tester-1", "tester-2", "tester-3", "alice"):
        config = yaml.safe_load(Path(devcluster.kubeconfig(user)).read_text(encoding="utf-8"))
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"] == devcluster.server
        assert cluster["certificate-authority-data"]
        assert "insecure-skip-tls-verify" not in cluster
        assert Path(devcluster.kubeconfig(user)).stat().st_mode & 0o077 == 0, (
            "kubeconfig holds a token: 0600"
        )


def test_start_is_idempotent_and_status_reports_the_cluster(devcluster: DevCluster) -> None:
    started = subprocess.run(
        [str(SCRIPT), "start", "--name", devcluster.name],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stdout + started.stderr
    assert "already running" in started.stdout

    status = subprocess.run(
        [str(SCRIPT), "status", "--name", devcluster.name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"{devcluster.name}: running" in status.stdout
    assert devcluster.server in status.stdout
    assert KUBE_VERSION in status.stdout


def test_start_refuses_a_port_that_is_taken(devcluster: DevCluster, tmp_path: Path) -> None:
    port = devcluster.server.rsplit(":", 1)[1]
    proc = subprocess.run(
        [str(SCRIPT), "start", "--name", "port-clash", "--port", port],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DEVCLUSTER_STATE_DIR": str(tmp_path / "state")},
    )
    assert proc.returncode != 0
    assert f"port {port} (apiserver) is already in use by kube-apiserver" in proc.stderr
    assert not (tmp_path / "state" / "port-clash" / "cluster.env").exists()


def test_built_kubectl_matches_the_server(devcluster: DevCluster) -> None:
    out = devcluster.kubectl("version", "--short").stdout
    assert f"Client Version: {KUBE_VERSION}" in out
    assert f"Server Version: {KUBE_VERSION}" in out


# --------------------------------------------------------------------------- API semantics


def test_server_side_apply_tracks_field_managers_and_reports_conflicts(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    configmaps = devcluster.dynamic().resources.get(api_version="v1", kind="ConfigMap")
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "ssa", "namespace": kube_namespace},
        "data": {"color": "blue", "size": "3"},
    }
    applied = configmaps.server_side_apply(
        body=manifest, namespace=kube_namespace, field_manager="driftcontrol"
    )
    assert applied.data.color == "blue"
    assert {entry.manager for entry in applied.metadata.managedFields} == {"driftcontrol"}
    assert applied.metadata.managedFields[0].operation == "Apply"

    # The same manager applying again is a no-op, not a conflict.
    again = configmaps.server_side_apply(
        body=manifest, namespace=kube_namespace, field_manager="driftcontrol"
    )
    assert again.metadata.resourceVersion == applied.metadata.resourceVersion

    # Another manager claiming a field with a different value: 409 Conflict.
    intruder = {**manifest, "data": {"color": "red"}}
    with pytest.raises(DynamicApiError) as excinfo:
        configmaps.server_side_apply(
            body=intruder, namespace=kube_namespace, field_manager="intruder"
        )
    assert excinfo.value.status == 409
    assert "conflict" in excinfo.value.body.lower()

    # Forcing takes the field over; the other field stays with the first manager.
    forced = configmaps.server_side_apply(
        body=intruder, namespace=kube_namespace, field_manager="intruder", force_conflicts=True
    )
    assert forced.data.color == "red"
    assert forced.data.size == "3"
    assert {entry.manager for entry in forced.metadata.managedFields} == {
        "driftcontrol",
        "intruder",
    }


def test_server_side_apply_needs_port_protocols_on_1_20(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    """Pins the 1.20 quirk that the apply form works around (fails if the server changes)."""
    services = devcluster.dynamic().resources.get(api_version="v1", kind="Service")
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "no-protocol", "namespace": kube_namespace},
        "spec": {
            "selector": {"app": "x"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
        },
    }
    with pytest.raises(DynamicApiError) as excinfo:
        services.server_side_apply(
            body=service, namespace=kube_namespace, field_manager="driftcontrol"
        )
    assert excinfo.value.status == 500
    assert 'omits key field \\"protocol\\"' in excinfo.value.body
    applied = services.server_side_apply(
        body=in_apply_form(devcluster, service),
        namespace=kube_namespace,
        field_manager="driftcontrol",
    )
    assert applied.spec.ports[0].protocol == "TCP"


def test_watch_sees_added_modified_deleted(devcluster: DevCluster, kube_namespace: str) -> None:
    with devcluster.client() as api:
        core = client.CoreV1Api(api)
        start_rv = core.list_namespaced_config_map(kube_namespace).metadata.resource_version

        def mutate() -> None:
            time.sleep(0.5)  # let the watch connect; it starts from start_rv either way
            core.create_namespaced_config_map(
                kube_namespace,
                client.V1ConfigMap(metadata=client.V1ObjectMeta(name="watched"), data={"v": "1"}),
            )
            core.patch_namespaced_config_map("watched", kube_namespace, {"data": {"v": "2"}})
            core.delete_namespaced_config_map("watched", kube_namespace)

        writer = threading.Thread(target=mutate)
        writer.start()
        seen: list[tuple[str, str | None]] = []
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            namespace=kube_namespace,
            resource_version=start_rv,
            timeout_seconds=30,
        ):
            obj = event["object"]
            # The controller-manager publishes kube-root-ca.crt into every namespace.
            if obj.metadata.name != "watched":
                continue
            seen.append((event["type"], (obj.data or {}).get("v")))
            if event["type"] == "DELETED":
                w.stop()
        writer.join(timeout=30)
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_custom_resource_definition_and_custom_objects(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    # A unique group per run: CRDs are cluster-scoped and the cluster outlives the session.
    group = f"t{uuid.uuid4().hex[:8]}.devcluster.test"
    crd_name = f"widgets.{group}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "size": {"type": "integer"},
                                        "color": {"type": "string"},
                                        "tags": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    with devcluster.client() as api:
        extensions = client.ApiextensionsV1Api(api)
        custom = client.CustomObjectsApi(api)
        extensions.create_custom_resource_definition(crd)
        try:

            def established() -> bool:
                conditions = (
                    extensions.read_custom_resource_definition(crd_name).status.conditions or []
                )
                return any(c.type == "Established" and c.status == "True" for c in conditions)

            wait_until(f"CRD {crd_name} Established", established, timeout=30)

            widget = {
                "apiVersion": f"{group}/v1",
                "kind": "Widget",
                "metadata": {"name": "w1", "labels": {"app": "demo"}},
                "spec": {"size": 3, "color": "green", "tags": {"team": "drift", "tier": "gold"}},
            }

            def create() -> dict[str, Any] | None:
                try:
                    return custom.create_namespaced_custom_object(
                        group, "v1", kube_namespace, "widgets", widget
                    )
                except ApiException as exc:
                    if exc.status == 404:  # the new resource is not routed yet
                        return None
                    raise

            created = wait_until("the custom resource to be served", create, timeout=30)
            assert created["spec"] == widget["spec"]

            read = custom.get_namespaced_custom_object(group, "v1", kube_namespace, "widgets", "w1")
            assert read["spec"] == {
                "size": 3,
                "color": "green",
                "tags": {"team": "drift", "tier": "gold"},
            }
            assert read["metadata"]["uid"] == created["metadata"]["uid"]

            patched = custom.patch_namespaced_custom_object(
                group, "v1", kube_namespace, "widgets", "w1", {"spec": {"color": "teal"}}
            )
            assert patched["spec"]["color"] == "teal"

            listed = custom.list_namespaced_custom_object(group, "v1", kube_namespace, "widgets")
            assert [item["metadata"]["name"] for item in listed["items"]] == ["w1"]

            # Server-side apply works on custom resources too (structural schema).
            widgets = devcluster.dynamic().resources.get(api_version=f"{group}/v1", kind="Widget")
            applied = widgets.server_side_apply(
                body={**widget, "metadata": {"name": "w2", "namespace": kube_namespace}},
                namespace=kube_namespace,
                field_manager="driftcontrol",
            )
            assert applied.spec.size == 3
        finally:
            extensions.delete_custom_resource_definition(crd_name)


# --------------------------------------------------------------------------- identities


def test_scanner_reads_everything_and_remediates_but_cannot_escalate(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    with devcluster.client("driftcontrol-scanner") as api:
        apps = client.AppsV1Api(api)
        core = client.CoreV1Api(api)
        rbac = client.RbacAuthorizationV1Api(api)

        apps.list_namespaced_deployment(kube_namespace)
        apps.list_deployment_for_all_namespaces()
        core.list_secret_for_all_namespaces()  # compared by hash, so it must read them
        client.NetworkingV1Api(api).list_network_policy_for_all_namespaces()
        rbac.list_cluster_role()

        # Remediation of the kinds it manages.
        core.create_namespaced_config_map(
            kube_namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="fixed"), data={"k": "v"}),
        )
        core.patch_namespaced_config_map("fixed", kube_namespace, {"data": {"k": "w"}})
        core.delete_namespaced_config_map("fixed", kube_namespace)

        # Refused: cluster-wide RBAC, namespaces, pods.
        binding = client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=f"escalate-{uuid.uuid4().hex[:6]}"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="cluster-admin"
            ),
            subjects=[
                client.RbacV1Subject(
                    kind="Group",
                    name="driftcontrol:scanners",
                    api_group="rbac.authorization.k8s.io",
                )
            ],
        )
        assert status_of(lambda: rbac.create_cluster_role_binding(binding)) == 403
        assert status_of(lambda: core.delete_namespace(kube_namespace)) == 403
        assert (
            status_of(lambda: core.delete_collection_namespaced_config_map(kube_namespace)) == 403
        )
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="p"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
        )
        assert status_of(lambda: core.create_namespaced_pod(kube_namespace, pod)) == 403

        # No shell through a websocket GET on pods/exec (why resources are not "*").
        review = client.AuthorizationV1Api(api).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace=kube_namespace, verb="get", resource="pods", subresource="exec"
                    )
                )
            )
        )
        assert review.status.allowed is False


def test_tester_identities_have_no_rights_until_a_test_grants_them(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    with devcluster.client("tester-1") as api:
        core = client.CoreV1Api(api)
        assert status_of(lambda: core.list_namespaced_pod(kube_namespace)) == 403
        assert status_of(lambda: core.list_namespaced_config_map(kube_namespace)) == 403

    # A narrow grant: tester-1 may read ConfigMaps (only) in this namespace.
    with devcluster.client() as admin:
        rbac = client.RbacAuthorizationV1Api(admin)
        rbac.create_namespaced_role(
            kube_namespace,
            client.V1Role(
                metadata=client.V1ObjectMeta(name="read-configmaps"),
                rules=[
                    client.V1PolicyRule(
                        api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"]
                    )
                ],
            ),
        )
        rbac.create_namespaced_role_binding(
            kube_namespace,
            client.V1RoleBinding(
                metadata=client.V1ObjectMeta(name="tester-1-read-configmaps"),
                role_ref=client.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name="read-configmaps"
                ),
                subjects=[
                    client.RbacV1Subject(
                        kind="User", name="tester-1", api_group="rbac.authorization.k8s.io"
                    )
                ],
            ),
        )
    with devcluster.client("tester-1") as api:
        core = client.CoreV1Api(api)
        wait_until(
            "tester-1's RoleBinding to take effect",
            lambda: status_of(lambda: core.list_namespaced_config_map(kube_namespace)) == 200,
            timeout=10,
        )
        assert status_of(lambda: core.list_namespaced_secret(kube_namespace)) == 403
    with devcluster.client("tester-2") as api:
        assert (
            status_of(lambda: client.CoreV1Api(api).list_namespaced_config_map(kube_namespace))
            == 403
        )


# --------------------------------------------------------------------------- two clusters


def test_two_clusters_are_independent(
    devcluster: DevCluster, devcluster_b: DevCluster, kube_namespace: str
) -> None:
    assert devcluster.name != devcluster_b.name
    assert devcluster.server != devcluster_b.server
    with devcluster.client() as api_a, devcluster_b.client() as api_b:
        core_a = client.CoreV1Api(api_a)
        core_b = client.CoreV1Api(api_b)
        core_a.create_namespaced_config_map(
            kube_namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="only-in-a"), data={"k": "v"}),
        )
        assert core_a.read_namespaced_config_map("only-in-a", kube_namespace).data == {"k": "v"}
        assert status_of(lambda: core_b.read_namespace(kube_namespace)) == 404
        assert (
            status_of(lambda: core_b.read_namespaced_config_map("only-in-a", kube_namespace)) == 404
        )
        # Each has its own CA and tokens: a's admin token means nothing to b.
        uid_a = core_a.read_namespace("default").metadata.uid
        uid_b = core_b.read_namespace("default").metadata.uid
        assert uid_a != uid_b


# --------------------------------------------------------------------------- controller-manager


def test_controller_manager_creates_replicasets_for_deployments(
    devcluster: DevCluster, kube_namespace: str
) -> None:
    with devcluster.client() as api:
        apps = client.AppsV1Api(api)
        labels = {"app": "web"}
        apps.create_namespaced_deployment(
            kube_namespace,
            client.V1Deployment(
                metadata=client.V1ObjectMeta(name="web"),
                spec=client.V1DeploymentSpec(
                    replicas=2,
                    selector=client.V1LabelSelector(match_labels=labels),
                    template=client.V1PodTemplateSpec(
                        metadata=client.V1ObjectMeta(labels=labels),
                        spec=client.V1PodSpec(
                            containers=[client.V1Container(name="web", image="nginx:1.25")]
                        ),
                    ),
                ),
            ),
        )

        def replicaset() -> client.V1ReplicaSet | None:
            items = apps.list_namespaced_replica_set(kube_namespace, label_selector="app=web").items
            return next(
                (
                    rs
                    for rs in items
                    if any(
                        o.kind == "Deployment" and o.name == "web"
                        for o in rs.metadata.owner_references or []
                    )
                ),
                None,
            )

        rs = wait_until("a ReplicaSet owned by Deployment web", replicaset, timeout=60)
        assert rs.spec.replicas == 2
        # No kubelet: the ReplicaSet's Pods exist but stay Pending.
        pods = wait_until(
            "the ReplicaSet's pods",
            lambda: (
                client.CoreV1Api(api)
                .list_namespaced_pod(kube_namespace, label_selector="app=web")
                .items
            ),
            timeout=60,
        )
        assert {p.status.phase for p in pods} == {"Pending"}


def test_controller_manager_finishes_namespace_deletion(
    devcluster: DevCluster, make_kube_namespace: Callable[..., str]
) -> None:
    namespace = make_kube_namespace(prefix="doomed")
    with devcluster.client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content"), data={"k": "v"}),
        )
        core.delete_namespace(namespace)
        wait_until(
            f"namespace {namespace} to disappear",
            lambda: status_of(lambda: core.read_namespace(namespace)) == 404,
            timeout=90,
        )


# --------------------------------------------------------------------------- corpus


def test_corpus_is_there() -> None:
    # An empty parameter list would make the corpus tests below skip silently.
    assert len(CORPUS_FILES) >= 17, CORPUS_FILES


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES]
)
def test_corpus_applies_server_side(
    devcluster: DevCluster, kube_namespace: str, path: Path
) -> None:
    documents = corpus_documents(path)
    assert documents, f"{path} has no documents"
    dyn = devcluster.dynamic()
    for doc in documents:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        body = in_apply_form(devcluster, doc)
        body["metadata"]["namespace"] = kube_namespace
        applied = resource.server_side_apply(
            body=body, namespace=kube_namespace, field_manager="driftcontrol-test"
        )
        assert applied.metadata.name == doc["metadata"]["name"]
        assert applied.metadata.uid


@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES]
)
def test_corpus_applies_with_kubectl(
    devcluster: DevCluster, kube_namespace: str, path: Path
) -> None:
    documents = corpus_documents(path)
    proc = devcluster.kubectl("apply", "--namespace", kube_namespace, "-f", str(path))
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == len(documents), proc.stdout
    assert all(line.endswith(" created") for line in lines), proc.stdout
    # kubectl's client-side apply leaves its annotation, which drift detection must ignore.
    dyn = devcluster.dynamic()
    for doc in documents:
        resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        obj = resource.get(name=doc["metadata"]["name"], namespace=kube_namespace).to_dict()
        assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]
