"""The engine on other projects' fixtures: their desired/live pairs, their verdicts.

Every pair comes, unmodified, from another GitOps tool's test suite (Argo CD and its diff
engine, gitops-engine); origins, commits and licences are in tests/corpus/external/.
Each row says what the authors' own test asserts about the pair (cited beside it) and
which paths DriftControl reports for it: none when the authors consider it in sync, the
paths of the differences they inject otherwise. Where the authors' verdict comes from
an option DriftControl spells as a path ignore rule, the row checks that too. Rows whose
verdict DriftControl does not share are documented disagreements, with the reason.

Several live objects were read from API servers newer than the local 1.20 (managedFields
entries with `subresource: status`, Services with `clusterIPs`, `ipFamilies`,
`internalTrafficPolicy`); no public fixture records a `subresource: scale` entry, so the
last tests apply one, as Kubernetes 1.22 and later record it, to such an object.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift.engine.compare import ObjectDrift, compare, prepare
from drift.engine.normalize import SecretHasher, key_of, redacted
from drift.engine.policy import EnginePolicy

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "external"
GE = "gitops-engine/pkg/diff/testdata"  # argoproj/gitops-engine, tests in pkg/diff/diff_test.go
ACD = "argo-cd/controller/testdata"  # argoproj/argo-cd, tests in controller/sync_test.go
ACD_UTIL = "argo-cd/util/argo/testdata"  # argoproj/argo-cd, tests in util/argo/...
ACD_GE = "argo-cd/gitops-engine/pkg/diff/testdata"  # gitops-engine as merged into argo-cd
HASHER = SecretHasher(b"external-corpus")
CONTAINER = "/spec/template/spec/containers/0"
CHANGED, MISSING, REMOVED = "changed", "missing", "removed"


def ge_json(stem: str) -> tuple[str, str]:
    return f"{GE}/{stem}-config.json", f"{GE}/{stem}-live.json"


def load(name: str) -> dict[str, Any]:
    with open(CORPUS / name, encoding="utf-8") as file:
        document: dict[str, Any] = yaml.safe_load(file)  # JSON is YAML
    return document


def edit_labels_like_example2_with_difference(desired: dict, live: dict) -> None:
    """TestThreeWayDiffExample2WithDifference adds, changes and removes a label in Git."""
    labels = desired["metadata"]["labels"]
    labels["foo"] = "bar"
    labels["chart"] = "elasticsearch-1.7.1"
    del labels["release"]


def redact_like_test_redacted_secret_data(desired: dict, live: dict) -> None:
    """TestRedactedSecretData compares Argo CD's masked values, of different lengths."""
    for key in ("wordpress-password", "smtp-password"):
        desired["data"][key] = "+" * 8
        live["data"][key] = "+" * 12


@dataclass(frozen=True)
class Pair:
    id: str
    desired: str
    live: str
    cited: str  # the authors' test whose assertions give the verdict
    drift: dict[str, str] = field(default_factory=dict)  # path -> op; empty: in sync
    edit: Callable[[dict, dict], None] | None = None  # what the authors' test changes
    ignore: tuple[str, ...] = ()  # the authors' ignore option, as DriftControl rules
    drift_when_ignored: dict[str, str] = field(default_factory=dict)
    disagreement: str = ""  # why DriftControl's verdict differs from the authors'


PAIRS = [
    # In sync: each test asserts `Modified` is false.
    Pair(
        "ge-deployment",
        *ge_json("deployment"),
        "TestThreeWayDiffExample3",
    ),
    Pair(
        "ge-elasticsearch-helm",
        *ge_json("elasticsearch"),
        "TestThreeWayDiffExample2",
    ),
    Pair(
        "ge-mutatingwebhook",
        *ge_json("mutatingwebhookconfig"),
        "TestThreeWayDiffExample4",
    ),
    Pair(
        "ge-spinnaker-serviceaccount",
        *ge_json("spinnaker-sa"),
        "TestThreeWayDiffExplicitNamespace",
    ),
    Pair(
        "ge-wordpress-secret-null-value",
        *ge_json("wordpress"),
        "TestNullSecretData",
    ),
    Pair(
        "ge-grafana-clusterrole-null-rules",
        *ge_json("grafana-clusterrole"),
        "TestNullRoleRule",
    ),
    Pair(
        "ge-sealedsecret-null-timestamp",
        *ge_json("sealedsecret"),
        "TestNullCreationTimestamp",
    ),
    Pair(
        "ge-endpoints",
        *ge_json("endpoints"),
        "TestUnsortedEndpoints",
    ),
    Pair(
        "ge-smd-deployment-defaults",
        f"{GE}/smd-deploy-config.yaml",
        f"{GE}/smd-deploy-live.yaml",
        "TestStructuredMergeDiff/will apply deployment defaults correctly",
    ),
    # Drifted: each test asserts `Modified`, and what differs.
    Pair(
        "ge-aggregated-clusterrole",
        *ge_json("aggr-clusterrole"),
        "TestDiffOptionIgnoreAggregateRoles (drift with IgnoreAggregatedRoles(false), "
        "none with true: the controller fills `rules`, which kubectl had applied)",
        {"/rules": REMOVED},
        ignore=("/rules",),
    ),
    Pair(
        "ge-elasticsearch-labels-edited",
        *ge_json("elasticsearch"),
        "TestThreeWayDiffExample2WithDifference (foo missing, chart changed, release extra)",
        {
            "/metadata/labels/chart": CHANGED,
            "/metadata/labels/foo": MISSING,
            "/metadata/labels/release": REMOVED,
        },
        edit=edit_labels_like_example2_with_difference,
    ),
    Pair(
        "ge-wordpress-secret-redacted",
        *ge_json("wordpress"),
        "TestRedactedSecretData",
        {"/data/smtp-password": CHANGED, "/data/wordpress-password": CHANGED},
        edit=redact_like_test_redacted_secret_data,
    ),
    Pair(
        "ge-smd-service-target-port",
        f"{GE}/smd-service-config.yaml",
        f"{GE}/smd-service-live.yaml",
        "TestStructuredMergeDiff/will apply default values (rtmp targetPort 1936 vs 1935)",
        {"/spec/ports/1/targetPort": CHANGED},
    ),
    Pair(
        "ge-smd-service-port-dropped",
        f"{GE}/smd-service-config-2-ports.yaml",
        f"{GE}/smd-service-live.yaml",
        "TestStructuredMergeDiff/will remove entries in list (2 ports predicted, 3 live)",
        {"/spec/ports/2": REMOVED},
    ),
    Pair(
        "ge-smd-service-type-dropped",
        f"{GE}/smd-service-config.yaml",
        f"{GE}/smd-service-live-with-type.yaml",
        "TestStructuredMergeDiff/will remove previously added fields not present in "
        "desired state (type back to ClusterIP), plus the rtmp targetPort",
        {"/spec/ports/1/targetPort": CHANGED, "/spec/type": REMOVED},
    ),
    Pair(
        "ge-smd-service-same-port-two-protocols",
        f"{GE}/smd-service-config-ports.yaml",
        f"{GE}/smd-service-live.yaml",
        "TestStructuredMergeDiff/will apply service with multiple ports (5 predicted)",
        {"/spec/ports": CHANGED},
    ),
    Pair(
        "ge-ssd-nested-env-and-ports",
        f"{GE}/ssd-deploy-nested-config.yaml",
        f"{GE}/ssd-deploy-nested-live.yaml",
        "TestServerSideDiff/will include nested fields like ports and env",
        {f"{CONTAINER}/env": CHANGED, f"{CONTAINER}/ports": CHANGED},
    ),
    Pair(
        "ge-ssd-manual-apply-port",
        f"{GE}/ssd-deploy-with-manual-apply-config.yaml",
        f"{GE}/ssd-deploy-with-manual-apply-live.yaml",
        "TestServerSideDiff/will add an extra container using kubectl apply and include "
        "mutation webhook (port 40 added; the manually applied container is not a diff)",
        {f"{CONTAINER}/ports": CHANGED},
    ),
    Pair(
        "ge-ssd-label-deleted",
        f"{GE}/ssd-svc-no-label-config.yaml",
        f"{GE}/ssd-svc-label-live.yaml",
        "TestServerSideDiff/will reflect deletion of labels in predicted live",
        {"/metadata/labels/delete-me": REMOVED},
    ),
    Pair(
        "ge-ssd-composite-key-port",
        f"{GE}/ssd-deploy-composite-key-config.yaml",
        f"{GE}/ssd-deploy-composite-key-live.yaml",
        "TestServerSideDiff/will preserve composite key fields during diff (8080 added)",
        {f"{CONTAINER}/ports": CHANGED},
    ),
    Pair(
        "acd-ge-ssd-configmap-key-removed",
        f"{ACD_GE}/ssd-configmap-config.yaml",
        f"{ACD_GE}/ssd-configmap-live.yaml",
        "TestServerSideDiff/will detect ConfigMap data key removal",
        {"/data/key3": REMOVED},
    ),
    Pair(
        "acd-deployment",
        f"{ACD}/target-deployment.yaml",
        f"{ACD}/live-deployment.yaml",
        "TestNormalizeTargetResources: iksm-version 1.0 stays unless ignored; "
        "/spec/replicas ignored by JSON pointer",
        {"/metadata/annotations/iksm-version": CHANGED, "/spec/replicas": CHANGED},
        ignore=("/spec/replicas",),
        drift_when_ignored={"/metadata/annotations/iksm-version": CHANGED},
    ),
    Pair(
        "acd-deployment-new-entries",
        f"{ACD}/target-deployment-new-entries.yaml",
        f"{ACD}/live-deployment.yaml",
        "TestNormalizeTargetResources/will keep new array entries not found in live state",
        {
            "/metadata/annotations/iksm-version": CHANGED,
            "/spec/replicas": CHANGED,
            "/spec/template/spec/containers": CHANGED,
            f"{CONTAINER}/env": CHANGED,
            f"{CONTAINER}/ports": CHANGED,
        },
    ),
    Pair(
        "acd-deployment-env-vars",
        f"{ACD}/target-deployment-env-vars.yaml",
        f"{ACD}/live-deployment-env-vars.yaml",
        "TestNormalizeTargetResourcesWithList/will correctly set array entries if new "
        "entries have been added",
        {
            "/metadata/annotations/iksm-version": CHANGED,
            "/spec/replicas": CHANGED,
            f"{CONTAINER}/env": CHANGED,
            f"{CONTAINER}/env/0/value": CHANGED,
        },
    ),
    Pair(
        "acd-image-replicas",
        f"{ACD}/additional-image-replicas-deployment.yaml",
        f"{ACD}/minimal-image-replicas-deployment.yaml",
        "TestNormalizeTargetResourcesWithList/ignore-deployment-image-replicas-changes-"
        "additive (replicas and images ignored; labels, requests and env still differ)",
        {
            "/metadata/labels/appProcess": MISSING,
            "/spec/replicas": CHANGED,
            "/spec/template/metadata/labels/appProcess": MISSING,
            f"{CONTAINER}/env": MISSING,
            f"{CONTAINER}/image": CHANGED,
            f"{CONTAINER}/resources/requests": MISSING,
        },
        ignore=("/spec/replicas", "/spec/template/spec/containers/*/image"),
        drift_when_ignored={
            "/metadata/labels/appProcess": MISSING,
            "/spec/template/metadata/labels/appProcess": MISSING,
            f"{CONTAINER}/env": MISSING,
            f"{CONTAINER}/resources/requests": MISSING,
        },
    ),
    Pair(
        "acd-pdb-selector",
        f"{ACD}/target-pdb.yaml",
        f"{ACD}/live-pdb.yaml",
        "TestNormalizeTargetResourcesPDBSelector/ignoring one matchLabels key should not "
        "clobber other selector changes",
        {"/spec/selector/matchLabels/app": CHANGED, "/spec/selector/matchLabels/version": CHANGED},
        ignore=("/spec/selector/matchLabels/version",),
        drift_when_ignored={"/spec/selector/matchLabels/app": CHANGED},
    ),
    Pair(
        "acd-rollout-crd",
        f"{ACD}/target-rollout.yaml",
        f"{ACD}/live-rollout.yaml",
        "TestNormalizeTargetResourcesCRDs/rollout-obj (init image ignored; the probe "
        "delay still differs)",
        {f"{CONTAINER}/livenessProbe/initialDelaySeconds": CHANGED},
        ignore=("/spec/template/spec/containers/0/image",),
        drift_when_ignored={f"{CONTAINER}/livenessProbe/initialDelaySeconds": CHANGED},
    ),
    # A CRD's list: DriftControl knows no CRD schema, so `servers` (list-map-keys: name in
    # the authors' schema) compares whole and both injected changes land on the list.
    Pair(
        "acd-simple-app-crd",
        f"{ACD}/simple-app-target.yaml",
        f"{ACD}/simple-app-live.yaml",
        "TestNormalizeTargetResourcesCRDs/sample-app (servers[0].port and "
        "servers[1].enabled changed live)",
        {"/spec/servers": CHANGED},
    ),
    Pair(
        "acd-httpproxy-crd",
        f"{ACD}/target-httpproxy.yaml",
        f"{ACD}/live-httpproxy.yaml",
        "TestNormalizeTargetResourcesWithList/will properly ignore nested fields within "
        "arrays (2 descriptors declared, 1 live)",
        {"/spec/routes": CHANGED},
    ),
    Pair(
        "acd-child-application",
        f"{ACD}/target-child-application.yaml",
        f"{ACD}/live-child-application.yaml",
        "TestNormalizeTargetResourcesCRDs/app-of-apps-child-application-chart-version-"
        "update-panic (chart version update)",
        {"/spec/source/targetRevision": CHANGED},
    ),
    Pair(
        "acd-util-replicas-and-history",
        f"{ACD_UTIL}/desired_deployment.yaml",
        f"{ACD_UTIL}/live_deployment_with_managed_replica.yaml",
        "util/argo/diff TestStateDiff (Modified in every case; replicas normalized by "
        "JSON pointer)",
        {"/spec/replicas": CHANGED, "/spec/revisionHistoryLimit": CHANGED},
        ignore=("/spec/replicas",),
        drift_when_ignored={"/spec/revisionHistoryLimit": CHANGED},
    ),
    Pair(
        "acd-util-webhook-ca-bundle",
        f"{ACD_UTIL}/desired_validating_webhook.yaml",
        f"{ACD_UTIL}/live_validating_webhook.yaml",
        "util/argo/managedfields TestNormalize/will normalize successfully inside a list "
        "(caBundle differs unless its manager is trusted)",
        {"/webhooks/0/clientConfig/caBundle": CHANGED},
        ignore=("/webhooks/*/clientConfig/caBundle",),
    ),
    # Documented disagreements.
    Pair(
        "ge-ssd-service-webhook",
        f"{GE}/ssd-service-config.yaml",
        f"{GE}/ssd-service-live.yaml",
        "TestServerSideDiff/will ignore modifications done by mutation webhook by default "
        "(asserts Modified)",
        disagreement="the authors' Modified comes from their mocked dry-run answer "
        "(ssd-service-predicted-live.json), which lacks the app.kubernetes.io/instance "
        "label the config declares; config and live agree on every declared field",
    ),
    Pair(
        "ge-ssd-webhook-requests",
        f"{GE}/smd-deploy2-config.yaml",
        f"{GE}/smd-deploy2-live.yaml",
        "TestServerSideDiff/will test removing some field with undoing changes done by "
        "webhook (asserts Modified; requests equal in predicted and live)",
        {
            f"{CONTAINER}/resources/requests/cpu": REMOVED,
            f"{CONTAINER}/resources/requests/memory": REMOVED,
        },
        disagreement="a mutating webhook set the requests during the applier's apply, so "
        "managedFields make the applier their owner: DriftControl reads that as applied "
        "and since dropped from Git (its removal rule); Argo CD dry-runs the apply and "
        "sees the webhook add them again. The port Argo CD's dry-run drops (8080) has no "
        "owner in managedFields, and an item nobody applied is not drift here",
    ),
]
PAIRS_BY_ID = {pair.id: pair for pair in PAIRS}


def run(
    desired: dict[str, Any],
    live: dict[str, Any],
    ignore: tuple[str, ...] = (),
    policy: EnginePolicy | None = None,
    **options: Any,
) -> ObjectDrift | None:
    metadata = desired.setdefault("metadata", {})
    # A scan gives namespaced objects without one the policy's namespace.
    if not metadata.get("namespace") and (live.get("metadata") or {}).get("namespace"):
        metadata["namespace"] = live["metadata"]["namespace"]
    if policy is None:
        rules = [{"paths": list(ignore)}] if ignore else []
        policy = EnginePolicy.from_documents(ignore=rules, **options)
    return compare(prepare(desired, "corpus", HASHER, key_of(desired)), live, policy, HASHER)


def ops(drift: ObjectDrift | None) -> dict[str, str]:
    return {} if drift is None else {f.path: f.op for f in drift.fields}


def loaded(pair: Pair) -> tuple[dict[str, Any], dict[str, Any]]:
    desired, live = load(pair.desired), load(pair.live)
    if pair.edit is not None:
        pair.edit(desired, live)
    return desired, live


@pytest.mark.parametrize("pair", PAIRS, ids=lambda pair: pair.id)
def test_the_engine_agrees_with_the_authors_of_the_fixture(pair):
    desired, live = loaded(pair)

    assert ops(run(copy.deepcopy(desired), live)) == pair.drift, pair.cited
    if pair.ignore:
        assert ops(run(desired, live, pair.ignore)) == pair.drift_when_ignored, pair.cited


def test_the_counts_the_readme_reports():
    agreed = [p for p in PAIRS if not p.disagreement]

    assert len([p for p in agreed if not p.drift]) == 9  # in sync
    assert len([p for p in agreed if p.drift]) == 23  # drifted, and found
    assert len([p for p in PAIRS if p.disagreement]) == 2


def test_missing_list_items_are_the_ones_the_authors_add():
    drift = run(*loaded(PAIRS_BY_ID["ge-ssd-nested-env-and-ports"]))

    missing = {f.path: f.missing_items for f in drift.fields}
    assert missing[f"{CONTAINER}/env"] == [{"name": "ENV_VAR2", "value": "value2"}]
    assert missing[f"{CONTAINER}/ports"] == [{"containerPort": 443, "name": "https"}]
    ports = run(*loaded(PAIRS_BY_ID["ge-smd-service-same-port-two-protocols"])).fields[0]
    assert [(p["port"], p["protocol"]) for p in ports.missing_items] == [
        (1935, "UDP"),
        (443, "UDP"),
    ]


def test_the_disagreements_come_from_where_the_reasons_say():
    """Pins the reasons to the authors' own data: their mocked server answers."""
    service = PAIRS_BY_ID["ge-ssd-service-webhook"]
    label = "app.kubernetes.io/instance"
    predicted = load(f"{GE}/ssd-service-predicted-live.json")
    assert label in load(service.desired)["metadata"]["labels"]
    assert label in load(service.live)["metadata"]["labels"]
    assert label not in predicted["metadata"]["labels"]

    predicted = load(f"{GE}/smd-deploy2-predicted-live.json")
    live = load(PAIRS_BY_ID["ge-ssd-webhook-requests"].live)
    container, live_container = (
        o["spec"]["template"]["spec"]["containers"][0] for o in (predicted, live)
    )
    assert container["resources"] == live_container["resources"]
    assert 8080 in [p["containerPort"] for p in live_container["ports"]]
    assert 8080 not in [p["containerPort"] for p in container["ports"]]


# Live objects as servers newer than 1.20 return them, and what shows it.
NEWER_SERVERS = {
    "ge-smd-deployment-defaults": "subresource: status",
    "ge-ssd-webhook-requests": "subresource: status",
    "ge-smd-service-type-dropped": "subresource: status",
    "ge-ssd-manual-apply-port": "subresource: status",
    "ge-ssd-service-webhook": "internalTrafficPolicy",
    "ge-smd-service-target-port": "internalTrafficPolicy",
}


def newer_server_marks(live: dict[str, Any]) -> set[str]:
    managed = live["metadata"].get("managedFields") or []
    marks = {f"subresource: {e['subresource']}" for e in managed if e.get("subresource")}
    # Defaulted from 1.22 on; one fixture keeps only its owner's record of it.
    if "internalTrafficPolicy" in live["spec"] or "f:internalTrafficPolicy" in json.dumps(managed):
        marks.add("internalTrafficPolicy")
    return marks


@pytest.mark.parametrize("pair_id", sorted(NEWER_SERVERS))
def test_newer_server_objects_show_it_and_hide_no_status_drift(pair_id):
    pair = PAIRS_BY_ID[pair_id]
    desired, live = loaded(pair)
    assert NEWER_SERVERS[pair_id] in newer_server_marks(live)

    # Status written through its subresource is never drift, even when no manager is
    # trusted and every field someone added live is reported.
    distrustful = EnginePolicy(report_undeclared=True, trusted_managers=frozenset())
    reported = ops(run(desired, live, policy=distrustful))
    assert not [path for path in reported if path.startswith("/status")]
    # The stored form keeps the object and drops only the attribution.
    stored = redacted(live, HASHER)
    assert "managedFields" not in stored["metadata"]
    assert stored["spec"] == live["spec"] and stored.get("status") == live.get("status")


def test_a_null_secret_value_is_stored_as_the_empty_value():
    live = load(f"{GE}/wordpress-live.json")

    stored = redacted(live, HASHER)

    assert stored["data"]["smtp-password"] == HASHER(b"")
    # Neither the value nor kubectl's copy of an older one is kept.
    text = json.dumps(stored)
    assert "Skt2T0tjMk5PdQ" not in text and "Xkt2T0tjMk5PdQ" not in text


def scaled(live: dict[str, Any], replicas: int, manager: str, time: str) -> dict[str, Any]:
    """The object after a write to its scale subresource, as Kubernetes 1.22+ records it:
    an Update entry with `subresource: scale` that takes `spec.replicas` from its owner."""
    live = copy.deepcopy(live)
    live["spec"]["replicas"] = replicas
    for entry in live["metadata"]["managedFields"]:
        entry["fieldsV1"].get("f:spec", {}).pop("f:replicas", None)
    live["metadata"]["managedFields"].append(
        {
            "apiVersion": live["apiVersion"],
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
            "manager": manager,
            "operation": "Update",
            "subresource": "scale",
            "time": time,
        }
    )
    return live


SCALE_PAIR = f"{GE}/smd-deploy-config.yaml", f"{GE}/smd-deploy-live.yaml"


def test_a_scale_a_newer_server_records_is_drift_attributed_to_the_scaler():
    desired, live = (load(name) for name in SCALE_PAIR)
    live = scaled(live, 5, "kubectl", "2022-09-24T08:00:00Z")

    drift = run(desired, live)

    assert ops(drift) == {"/spec/replicas": CHANGED}
    assert drift.fields[0].managers == [
        {
            "manager": "kubectl",
            "operation": "Update",
            "time": "2022-09-24T08:00:00Z",
            "subresource": "scale",
        }
    ]
    assert drift.drift_started_at == "2022-09-24T08:00:00Z"


def test_an_autoscaler_scale_a_newer_server_records_is_not_drift():
    desired, live = (load(name) for name in SCALE_PAIR)
    live = scaled(live, 7, "kube-controller-manager", "2022-09-24T08:00:00Z")

    # An HPA's target: the scan ignores /spec/replicas (README, "Paths, ignore rules").
    assert run(copy.deepcopy(desired), live, ("/spec/replicas",)) is None
    # Git that leaves replicas to the autoscaler: nothing declared, nothing undeclared.
    del desired["spec"]["replicas"]
    assert run(copy.deepcopy(desired), live, report_undeclared=True) is None
    # The same scale by a person is a field someone added live.
    by_hand = scaled(load(SCALE_PAIR[1]), 7, "kubectl", "2022-09-24T08:00:00Z")
    assert ops(run(desired, by_hand, report_undeclared=True)) == {"/spec/replicas": "undeclared"}
