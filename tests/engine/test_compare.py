"""The engine, table-driven: what is drift and what is not, on realistic objects."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from drift.engine.compare import compare, prepare
from drift.engine.normalize import SecretHasher, key_of
from drift.engine.policy import EnginePolicy

HASHER = SecretHasher(b"test-key")

DEPLOYMENT = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: shop/web:1.0
        ports: [{containerPort: 8080}, {containerPort: 9090, name: metrics}]
        env: [{name: MODE, value: live}, {name: LEVEL, value: "3"}]
        resources:
          limits: {cpu: 2000m, memory: 1Gi}
""")


def live_of(manifest, managers=None, applied="client-side", **changes):
    """What the API server returns: defaults filled, server metadata, managedFields.

    Client-side `kubectl apply` leaves the last-applied annotation, and its Update entry
    owns the defaulted fields too; server-side apply owns exactly what was applied.
    """
    live = copy.deepcopy(manifest)
    live["metadata"].update(
        uid="u-1", resourceVersion="42", generation=3, creationTimestamp="2026-11-01T10:00:00Z"
    )
    live["status"] = {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    if live["kind"] == "Deployment":
        spec = live["spec"]
        spec.update(
            revisionHistoryLimit=10,
            progressDeadlineSeconds=600,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        )
        pod = spec["template"]["spec"]
        pod.update(
            restartPolicy="Always",
            dnsPolicy="ClusterFirst",
            schedulerName="default-scheduler",
            securityContext={},
            terminationGracePeriodSeconds=30,
        )
        for container in pod["containers"]:
            container.update(
                imagePullPolicy="IfNotPresent",
                terminationMessagePath="/dev/termination-log",
                terminationMessagePolicy="File",
            )
            for port in container.get("ports", []):
                port.setdefault("protocol", "TCP")
            limits = container.get("resources", {}).get("limits", {})
            if limits.get("cpu") == "2000m":
                limits["cpu"] = "2"
    if managers is not None:
        live["metadata"]["managedFields"] = managers
    elif applied == "client-side":
        live["metadata"].setdefault("annotations", {})[
            "kubectl.kubernetes.io/last-applied-configuration"
        ] = json.dumps(manifest)
        live["metadata"]["managedFields"] = [
            applier(live, "kubectl-client-side-apply", "Update", "2026-11-01T10:00:00Z")
        ]
    else:
        live["metadata"]["managedFields"] = [
            applier(manifest, "kubectl", "Apply", "2026-11-01T10:00:00Z")
        ]
    for path, value in changes.items():
        set_path(live, path, value)
    return live


def fields_v1(value, field="", owner=None, parent=None, kind=""):
    """The FieldsV1 trie a manager gets for setting everything in ``value``."""
    from drift.engine import merge_keys

    if isinstance(value, dict):
        kind = kind or value.get("kind", "")
        return {
            f"f:{k}": fields_v1(v, k, owner, field or None, kind)
            for k, v in value.items()
            if not isinstance(v, dict | list) or v
        }
    if isinstance(value, list):
        spec = merge_keys.spec_for(field, owner, parent, kind)
        if spec.mode == merge_keys.KEYED:
            return {
                f"k:{spec.key(item)}": {".": {}, **fields_v1(item, "", field, None, kind)}
                for item in value
            }
        if spec.mode == merge_keys.SET:
            return {f"v:{merge_keys.canonical(item)}": {} for item in value}
    return {}


def applier(manifest, manager, operation, time):
    trie = fields_v1({k: v for k, v in manifest.items() if k not in ("apiVersion", "status")})
    trie.pop("f:kind", None)
    trie["f:metadata"] = {
        k: v for k, v in trie.get("f:metadata", {}).items() if k in ("f:labels", "f:annotations")
    }
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": manifest["apiVersion"],
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": trie,
    }


def owner(manager, time, fields, operation="Update", api_version="apps/v1"):
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def set_path(obj, dotted, value):
    *parents, last = dotted.split(".")
    for part in parents:
        obj = obj[int(part)] if part.isdigit() else obj[part]
    if value is DELETE:
        del obj[int(last) if last.isdigit() else last]
    else:
        obj[int(last) if last.isdigit() else last] = value


DELETE = object()


def run(manifest, live, policy=None, extra_ignores=()):
    desired = prepare(manifest, "test.yaml", HASHER, key_of(manifest))
    return compare(desired, live, policy or EnginePolicy(), HASHER, extra_ignores)


CONTAINER = "/spec/template/spec/containers/0"


@pytest.mark.parametrize("applied", ["client-side", "server-side"])
def test_what_the_api_server_adds_is_not_drift(applied):
    assert run(DEPLOYMENT, live_of(DEPLOYMENT, applied=applied)) is None


def test_a_scale_through_the_subresource_is_not_blamed_on_the_applier():
    live = live_of(DEPLOYMENT, **{"spec.replicas": 5})  # the applier still owns replicas

    drift = run(DEPLOYMENT, live)

    assert drift.paths == ["/spec/replicas"]
    assert drift.fields[0].managers == []
    assert drift.drift_started_at is None


def test_an_image_edited_live_is_high_severity_and_attributed_to_the_editor():
    edit = owner(
        "kubectl-edit",
        "2026-11-02T09:30:00Z",
        {
            "f:spec": {
                "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}
            }
        },
    )
    live = live_of(DEPLOYMENT, **{"spec.template.spec.containers.0.image": "shop/web:6.6"})
    live["metadata"]["managedFields"].append(edit)

    drift = run(DEPLOYMENT, live)

    assert drift.paths == [f"{CONTAINER}/image"]
    assert drift.severity == "high"
    field = drift.fields[0]
    assert (field.op, field.desired, field.live) == ("changed", "shop/web:1.0", "shop/web:6.6")
    assert field.managers[0] == {
        "manager": "kubectl-edit",
        "operation": "Update",
        "time": "2026-11-02T09:30:00Z",
    }
    assert drift.drift_started_at == "2026-11-02T09:30:00Z"
    assert drift.patch == [{"op": "replace", "path": f"{CONTAINER}/image", "value": "shop/web:1.0"}]


@pytest.mark.parametrize(
    ("change", "path", "severity"),
    [
        ({"spec.replicas": 5}, "/spec/replicas", "medium"),
        ({"spec.template.spec.containers.0.env.1.value": "9"}, f"{CONTAINER}/env/1/value", "high"),
        (
            {"spec.template.spec.containers.0.resources.limits.memory": "2Gi"},
            f"{CONTAINER}/resources/limits/memory",
            "medium",
        ),
        ({"metadata.labels": {"app": "other"}}, "/metadata/labels/app", "low"),
        (
            {"spec.template.spec.containers.0.env.0": {"name": "MODE", "value": "debug"}},
            f"{CONTAINER}/env/0/value",
            "high",
        ),
    ],
)
def test_changes_people_make_are_found_with_their_path_and_severity(change, path, severity):
    drift = run(DEPLOYMENT, live_of(DEPLOYMENT, **change))

    assert drift.paths == [path]
    assert drift.severity == severity


@pytest.mark.parametrize(
    "equivalent",
    [
        {"spec.template.spec.containers.0.resources.limits.cpu": "2"},
        {"spec.template.spec.containers.0.resources.limits.memory": "1024Mi"},
        {"spec.template.spec.containers.0.env.1.value": "3"},
    ],
)
def test_canonical_spellings_are_not_drift(equivalent):
    assert run(DEPLOYMENT, live_of(DEPLOYMENT, **equivalent)) is None


def test_lists_with_merge_keys_compare_by_key_not_position():
    live = live_of(DEPLOYMENT)
    containers = live["spec"]["template"]["spec"]["containers"]
    containers.insert(0, {"name": "istio-proxy", "image": "istio/proxyv2:1.20"})
    live["spec"]["template"]["spec"]["containers"][1]["env"].reverse()

    assert run(DEPLOYMENT, live) is None


def test_a_port_removed_live_is_reported_on_the_list_with_the_missing_item():
    live = live_of(DEPLOYMENT)
    del live["spec"]["template"]["spec"]["containers"][0]["ports"][1]

    drift = run(DEPLOYMENT, live)

    assert drift.paths == [f"{CONTAINER}/ports"]
    assert drift.fields[0].missing_items == [{"containerPort": 9090, "name": "metrics"}]
    assert drift.patch == [
        {
            "op": "add",
            "path": f"{CONTAINER}/ports/-",
            "value": {"containerPort": 9090, "name": "metrics"},
        }
    ]


def test_an_object_someone_else_grew_is_not_drift_by_default():
    live = live_of(DEPLOYMENT)
    live["metadata"]["labels"]["team"] = "payments"
    live["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "EXTRA", "value": "1"})
    live["metadata"]["managedFields"].append(
        owner("kubectl-label", "2026-11-03T08:00:00Z", {"f:metadata": {"f:labels": {"f:team": {}}}})
    )

    assert run(DEPLOYMENT, live) is None


def test_undeclared_fields_by_untrusted_managers_are_reported_when_asked():
    live = live_of(DEPLOYMENT)
    live["metadata"]["labels"]["team"] = "payments"
    live["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "EXTRA", "value": "1"})
    live["status"]["observedGeneration"] = 3
    live["metadata"]["managedFields"] += [
        owner(
            "kubectl-label", "2026-11-03T08:00:00Z", {"f:metadata": {"f:labels": {"f:team": {}}}}
        ),
        owner(
            "kubectl-edit",
            "2026-11-03T09:00:00Z",
            {
                "f:spec": {
                    "f:template": {
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"web"}': {
                                    "f:env": {
                                        'k:{"name":"EXTRA"}': {".": {}, "f:name": {}, "f:value": {}}
                                    }
                                }
                            }
                        }
                    }
                }
            },
        ),
        owner(
            "kube-controller-manager",
            "2026-11-03T09:00:01Z",
            {
                "f:status": {"f:observedGeneration": {}},
                "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}},
            },
        ),
    ]
    policy = EnginePolicy.from_documents(report_undeclared=True)

    drift = run(DEPLOYMENT, live, policy)

    by_path = {f.path: f for f in drift.fields}
    assert set(by_path) == {"/metadata/labels/team", f"{CONTAINER}/env/2"}
    assert by_path["/metadata/labels/team"].severity == "low"
    assert by_path["/metadata/labels/team"].managers[0]["manager"] == "kubectl-label"
    assert by_path["/metadata/labels/team"].op == "undeclared"
    # A default rule ranks env changes higher than low.
    assert by_path[f"{CONTAINER}/env/2"].severity == "high"


def test_hpa_targets_ignore_replicas():
    drift = run(
        DEPLOYMENT, live_of(DEPLOYMENT, **{"spec.replicas": 7}), extra_ignores=["/spec/replicas"]
    )

    assert drift is None


def test_ignore_rules_match_paths_with_wildcards_and_select_objects():
    live = live_of(
        DEPLOYMENT, **{"spec.template.spec.containers.0.image": "shop/web:2.0", "spec.replicas": 3}
    )
    policy = EnginePolicy.from_documents(
        ignore=[
            {
                "kinds": ["Deployment"],
                "names": ["w*"],
                "paths": ["/spec/template/spec/containers/*/image"],
            },
            {"kinds": ["StatefulSet"], "paths": ["/spec/replicas"]},
        ]
    )

    assert run(DEPLOYMENT, live, policy).paths == ["/spec/replicas"]


def test_a_rule_without_paths_ignores_the_whole_object():
    policy = EnginePolicy.from_documents(ignore=[{"kinds": ["Deployment"], "namespaces": ["sh*"]}])

    assert run(DEPLOYMENT, live_of(DEPLOYMENT, **{"spec.replicas": 3}), policy) is None


def test_policy_severity_rules_come_first():
    policy = EnginePolicy.from_documents(
        severity=[{"kinds": ["Deployment"], "paths": ["/spec/replicas"], "level": "critical"}]
    )

    drift = run(DEPLOYMENT, live_of(DEPLOYMENT, **{"spec.replicas": 3}), policy)

    assert drift.severity == "critical"


@pytest.mark.parametrize("applied", ["client-side", "server-side"])
def test_a_field_removed_in_git_that_the_applier_set_is_drift(applied):
    live = live_of(DEPLOYMENT, applied=applied)  # applied with the MODE env var and app label
    in_git = copy.deepcopy(DEPLOYMENT)
    in_git["spec"]["template"]["spec"]["containers"][0]["env"].pop(0)
    in_git["metadata"]["labels"] = {}

    drift = run(in_git, live)

    assert {(f.path, f.op) for f in drift.fields} == {
        (f"{CONTAINER}/env/0", "removed"),
        ("/metadata/labels/app", "removed"),
    }
    assert {"op": "remove", "path": f"{CONTAINER}/env/0"} in drift.patch


def test_removals_fall_back_to_the_last_applied_annotation():
    live = live_of(DEPLOYMENT, managers=[])
    live["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(DEPLOYMENT)
    }
    in_git = copy.deepcopy(DEPLOYMENT)
    del in_git["spec"]["template"]["spec"]["containers"][0]["resources"]

    drift = run(in_git, live)

    assert [(f.path, f.op) for f in drift.fields] == [
        (f"{CONTAINER}/resources/limits/cpu", "removed"),
        (f"{CONTAINER}/resources/limits/memory", "removed"),
    ]


ROLEBINDING = yaml.safe_load("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: gitops}
""")


def test_lists_without_merge_keys_compare_whole():
    live = live_of(ROLEBINDING)
    live["subjects"].append(
        {"kind": "User", "name": "mallory", "apiGroup": "rbac.authorization.k8s.io"}
    )
    live["metadata"]["managedFields"].append(
        owner(
            "kubectl-edit",
            "2026-11-04T12:00:00Z",
            {"f:subjects": {}},
            api_version="rbac.authorization.k8s.io/v1",
        )
    )

    drift = run(ROLEBINDING, live)

    assert drift.paths == ["/subjects"]
    assert drift.severity == "critical"
    assert drift.fields[0].managers[0]["manager"] == "kubectl-edit"


NETWORK_POLICY = yaml.safe_load("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - ports: [{port: 8080}]
""")


def test_defaults_inside_atomic_list_items_are_not_drift():
    live = live_of(NETWORK_POLICY)
    live["spec"]["ingress"][0]["ports"][0]["protocol"] = "TCP"
    live["spec"]["policyTypes"] = ["Ingress"]

    assert run(NETWORK_POLICY, live) is None


SECRET = yaml.safe_load("""
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: hunter2}
data: {user: YWRtaW4=}
""")


def test_secret_values_compare_by_hash_and_never_appear_in_the_result():
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "db",
            "namespace": "shop",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(
                    {"stringData": {"password": "hunter2"}}
                )
            },
        },
        "data": {"user": "YWRtaW4=", "password": "aHVudGVyMg=="},
    }
    assert run(SECRET, live) is None

    live["data"]["password"] = "c3dvcmRmaXNo"  # swordfish
    drift = run(SECRET, live)

    text = repr(drift.as_dict())
    assert drift.paths == ["/data/password"]
    assert drift.severity == "high"
    assert "hunter2" not in text and "swordfish" not in text and "c3dvcmRmaXNo" not in text
    assert drift.fields[0].desired.startswith("hmac-sha256:")
    assert drift.patch == [{"op": "replace", "path": "/data/password", "value": "<redacted>"}]


@pytest.mark.parametrize("empty", [{}, [], "", None, False])
def test_empty_declared_values_equal_absent_live_values(empty):
    manifest = copy.deepcopy(DEPLOYMENT)
    manifest["spec"]["template"]["spec"]["containers"][0]["args"] = empty
    manifest["spec"]["template"]["metadata"]["annotations"] = empty or {}

    assert run(manifest, live_of(DEPLOYMENT)) is None


def test_service_ports_compare_by_port_and_protocol():
    service = yaml.safe_load("""
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      type: LoadBalancer
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: http}, {name: grpc, port: 9555, targetPort: 9555}]
    """)
    live = live_of(service)
    live["spec"].update(
        clusterIP="10.0.0.7", sessionAffinity="None", externalTrafficPolicy="Cluster"
    )
    for port in reversed(live["spec"]["ports"]):
        port.update(protocol="TCP", nodePort=31000 + port["port"] % 1000)
    live["spec"]["ports"].reverse()

    assert run(service, live) is None


def test_key_defaults_a_server_side_apply_wrote_are_not_removals():
    """DriftControl's sync applies Service and container ports with `protocol: TCP` filled
    in (drift.engine.apply_form), so its Apply entry owns `protocol`; Git, which leaves the
    protocol to its default, declares it all the same."""
    from drift.engine.merge_keys import KEY_DEFAULTS

    service = yaml.safe_load("""
    apiVersion: v1
    kind: Service
    metadata: {name: checkout, namespace: shop}
    spec:
      selector: {app: checkout}
      ports: [{name: http, port: 80, targetPort: http}, {name: grpc, port: 9999}]
    """)
    as_applied = copy.deepcopy(service)
    for port in as_applied["spec"]["ports"]:
        port.setdefault("protocol", KEY_DEFAULTS["protocol"])
    live = live_of(
        as_applied,
        managers=[applier(as_applied, "driftcontrol", "Apply", "2026-11-01T10:00:00Z")],
    )

    assert run(service, live) is None
    # A port Git dropped is still a removal, protocol and all.
    fewer = copy.deepcopy(service)
    fewer["spec"]["ports"].pop()
    assert [(f.path, f.op) for f in run(fewer, live).fields] == [("/spec/ports/1", "removed")]


def test_an_empty_secret_value_the_server_returns_as_null_is_not_drift():
    """The API server stores `key: ""` and returns it as null (Argo CD's fixture
    gitops-engine pkg/diff/testdata/wordpress-live.json shows it)."""
    manifest = {**SECRET, "data": {"user": "YWRtaW4=", "smtp": ""}, "stringData": {}}
    live = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "shop"},
        "data": {"user": "YWRtaW4=", "smtp": None},
    }
    assert run(manifest, live) is None

    live["data"]["smtp"] = "c3dvcmRmaXNo"
    assert run(manifest, live).paths == ["/data/smtp"]


def test_a_key_field_git_now_leaves_to_its_default_is_not_a_removal():
    """kubectl applied `protocol: TCP` explicitly; Git now omits it, and re-applying puts
    the same default back (gitops-engine's smd-service-live-with-type.yaml)."""
    service = yaml.safe_load("""
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      selector: {app: web}
      ports: [{name: http, port: 80, targetPort: 8080}]
    """)
    as_applied = copy.deepcopy(service)
    as_applied["spec"]["ports"][0]["protocol"] = "TCP"
    live = live_of(as_applied)  # client-side: the annotation holds `protocol: TCP`

    assert run(service, live) is None
    # Dropping a field that is not a key is still a removal.
    del service["spec"]["ports"][0]["targetPort"]
    assert [(f.path, f.op) for f in run(service, live).fields] == [
        ("/spec/ports/0/targetPort", "removed")
    ]
