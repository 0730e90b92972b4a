"""Lane separation (alignment.rules.lanes): one lane per namespace; a lane's workloads use
only its service accounts, Secrets and registries; bindings grant only its subjects."""

from __future__ import annotations

import pytest

from alignment import rules
from alignment.rules.lanes import image_reference
from tests.alignment.test_references import NEEDS, WEB, objects

FAST = rules.LaneSpec(
    "fast",
    namespaces=("dev-*",),
    identities=("system:serviceaccount:ci:fast-deployer", "dana"),
    secrets=("dev-*",),
)
CONTROLLED = rules.LaneSpec(
    "controlled",
    namespaces=("shop", "payments-*"),
    identities=("system:serviceaccount:gitops:deployer",),
    registries=("registry.example.com/",),
    service_accounts=("web", "api"),
    secrets=("registry", "db", "tls"),
)
LANES = (FAST, CONTROLLED)


def lane_findings(*texts: str, lanes=LANES, default=None) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    found = rules.evaluate(objects(*texts), rules.everything, lanes, default)
    return [(v.rule, str(v.key), v.evidence[0].path) for v in found if v.rule.startswith("lane.")]


def test_a_workload_within_its_lane_is_clean() -> None:
    assert lane_findings(WEB, NEEDS) == []


def test_another_lanes_secret_is_named_with_the_lane_it_belongs_to() -> None:
    crossing = WEB.replace("{name: db, key: password}", "{name: dev-db, key: password}")

    found = rules.evaluate(objects(crossing, NEEDS), rules.everything, LANES)

    secret = [v for v in found if v.rule == "lane.secret"]
    assert [(v.message, v.severity) for v in secret] == [
        (
            "Deployment.apps shop/web in lane controlled uses Secret dev-db, "
            "which belongs to lane fast",
            "high",
        )
    ]
    assert secret[0].evidence[0].path == (
        "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name"
    )


def test_a_secret_outside_the_lanes_allowance_is_named_too() -> None:
    other = WEB.replace("secretName: tls", "secretName: x").replace("{name: tls}", "{name: certs}")

    assert lane_findings(other, NEEDS) == [
        (
            "lane.secret",
            "Deployment.apps shop/web",
            "/spec/template/spec/volumes/1/projected/sources/0/secret/name",
        )
    ]


def test_service_accounts_and_registries_of_the_lane() -> None:
    other = WEB.replace("serviceAccountName: web", "serviceAccountName: builder").replace(
        "registry.example.com/shop/web:1.4.2", "docker.io/someone/web:latest"
    )

    assert lane_findings(other, NEEDS) == [
        ("lane.registry", "Deployment.apps shop/web", "/spec/template/spec/containers/0/image"),
        (
            "lane.service-account",
            "Deployment.apps shop/web",
            "/spec/template/spec/serviceAccountName",
        ),
    ]


@pytest.mark.parametrize(
    "image, seen_as",
    [
        ("nginx", "docker.io/library/nginx"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("localhost/web", "localhost/web"),
        (
            "registry.example.com:5000/shop/web@sha256:ab",
            "registry.example.com:5000/shop/web@sha256:ab",
        ),
    ],
)
def test_images_are_read_as_their_registry_sees_them(image: str, seen_as: str) -> None:
    assert image_reference(image) == seen_as


BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: gitops}
- {kind: ServiceAccount, name: fast-deployer, namespace: ci}
- {kind: User, name: dana}
- {kind: ServiceAccount, name: builder, namespace: dev-tools}
"""


def test_a_binding_never_grants_another_lanes_subjects() -> None:
    found = rules.evaluate(objects(BINDING, NEEDS), rules.everything, LANES)

    binding = [(v.evidence[0].path, v.severity) for v in found if v.rule == "lane.binding"]
    assert binding == [
        ("/subjects/1", "critical"),  # the fast lane's deployer, by identity
        ("/subjects/2", "critical"),  # dana deploys the fast lane
        ("/subjects/3", "critical"),  # a service account of a fast-lane namespace
    ]


def test_a_namespace_two_lanes_claim_is_named() -> None:
    greedy = rules.LaneSpec("greedy", namespaces=("sho*",))

    found = rules.evaluate(objects(WEB, NEEDS), rules.everything, (*LANES, greedy))

    claimed = [v for v in found if v.rule == "lane.namespace"]
    assert [(str(v.key), v.message) for v in claimed] == [
        (
            "ConfigMap shop/settings",  # the namespace's first object: a scan reads it
            "namespace shop (of ConfigMap shop/settings) is claimed by lanes controlled, greedy",
        )
    ]
    assert str(claimed[0].evidence[0].key) == "Namespace shop"


def test_manifests_no_lane_claims_belong_to_the_default_lane() -> None:
    loose = WEB.replace("namespace: shop", "namespace: unclaimed")

    assert lane_findings(loose) == []
    # Deployed by the fast lane, it uses the controlled lane's Secrets and account.
    assert [rule for rule, _, _ in lane_findings(loose, default=FAST)] == [
        "lane.secret",
        "lane.secret",
        "lane.secret",
        "lane.service-account",
    ]


def test_a_policy_ranks_alignment_findings_by_rule_and_no_drift_with_such_a_rule() -> None:
    from drift.engine import rules as documents
    from drift.engine.normalize import ObjectKey
    from drift.engine.policy import EnginePolicy

    severity = [
        {"rules": ["lane.*"], "namespaces": ["dev-*"], "level": "low"},
        {"rules": ["refs.subject"], "level": "high"},
    ]
    policy = EnginePolicy.from_documents(severity=severity)
    dev = ObjectKey("apps", "Deployment", "dev-1", "preview")
    shop = ObjectKey("apps", "Deployment", "shop", "web")

    assert documents.severity_rules(severity) == []
    assert [problem.path for problem in documents.severity_rules([{"rules": "lane.*"}])] == [
        "severity[0].level",
        "severity[0].rules",
    ]
    assert policy.alignment_level(dev, "lane.secret") == "low"
    assert policy.alignment_level(shop, "lane.secret") is None  # the rule's own default
    assert policy.alignment_level(shop, "refs.subject") == "high"
    assert policy.level(dev, None) == policy.level(shop, None)  # drift: as without them


def test_a_secret_of_a_lane_that_is_not_on_this_cluster_still_belongs_to_it() -> None:
    crossing = WEB.replace("namespace: shop", "namespace: dev-1")  # fast's, reading db

    found = rules.evaluate(objects(crossing), rules.everything, (FAST,), every_lane=LANES)

    assert [v.message for v in found if v.rule == "lane.secret"][0] == (
        "Deployment.apps dev-1/web in lane fast uses Secret db, which belongs to lane controlled"
    )


def test_a_secret_two_lanes_list_is_shared_not_crossed() -> None:
    shared = rules.LaneSpec("fast", namespaces=("dev-*",), secrets=("dev-*", "registry"))

    found = rules.evaluate(objects(WEB, NEEDS), rules.everything, (shared, CONTROLLED))

    assert [v for v in found if v.rule == "lane.secret"] == []
