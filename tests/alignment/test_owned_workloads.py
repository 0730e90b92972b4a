"""What a workload controller makes from its template (a Deployment's ReplicaSets) is
judged on its owner: a scan that reads ReplicaSets reports a broken reference or a lane
crossing once, on the Deployment Git declares, and an old ReplicaSet that still carries
the template from before the fix reports nothing."""

from __future__ import annotations

from alignment import rules
from tests.alignment.test_references import objects

LANE = rules.LaneSpec(
    "controlled",
    namespaces=("shop",),
    registries=("registry.example.com/",),
    secrets=("shop-*",),
)
TEMPLATE = """
    metadata: {labels: {app: web%(hash)s}}
    spec:
      containers:
      - name: web
        image: %(image)s
        envFrom: [{configMapRef: {name: flags}}, {secretRef: {name: dev-db}}]
"""
DEPLOYMENT = (
    """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: 6f1c}
spec:
  selector: {matchLabels: {app: web}}
  template:"""
    + TEMPLATE
)
# As kube-controller-manager writes it for the Deployment above.
REPLICA_SET = (
    """
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-%(name)s
  namespace: shop
  ownerReferences:
  - {apiVersion: %(owner_api)s, kind: %(owner)s, name: web, uid: 6f1c, controller: true,
     blockOwnerDeletion: true}
spec:
  replicas: %(replicas)s
  selector: {matchLabels: {app: web, pod-template-hash: %(name)s}}
  template:"""
    + TEMPLATE
)
BROKEN = {"image": "quay.io/someone/web:dev", "hash": ""}
FIXED = {"image": "registry.example.com/shop/web:1.4.3", "hash": ""}


def replica_set(name: str, replicas: int, owner: str = "Deployment", **template: str) -> str:
    owner_api = "apps/v1" if owner == "Deployment" else "argoproj.io/v1alpha1"
    values = {"name": name, "replicas": replicas, "owner": owner, "owner_api": owner_api}
    return REPLICA_SET % {**values, **template, "hash": f", pod-template-hash: {name}"}


def violations(*texts: str) -> list[tuple[str, str, str]]:
    found = rules.evaluate(objects(*texts), rules.everything, (LANE,))
    return [(v.rule, v.key.kind, v.key.name) for v in found]


def test_a_broken_deployment_is_reported_once_not_again_on_its_replica_set() -> None:
    current = replica_set("7c9b5d", 2, **BROKEN)

    assert violations(DEPLOYMENT % BROKEN, current) == [
        ("lane.registry", "Deployment", "web"),
        ("lane.secret", "Deployment", "web"),
        ("refs.configmap", "Deployment", "web"),
        ("refs.secret", "Deployment", "web"),
    ]


def test_the_old_replica_set_of_a_fixed_deployment_reports_nothing() -> None:
    fixed = DEPLOYMENT % FIXED
    fixed = fixed.replace("{configMapRef: {name: flags}}, {secretRef: {name: dev-db}}", "")
    old = replica_set("7c9b5d", 0, **BROKEN)
    current = replica_set("58f6c4", 2, **FIXED).replace(
        "{configMapRef: {name: flags}}, {secretRef: {name: dev-db}}", ""
    )

    assert violations(fixed, old, current) == []


def test_a_replica_set_no_judged_workload_owns_is_judged_itself() -> None:
    # Argo Rollouts make ReplicaSets too; a Rollout is no workload the rules read.
    bare = replica_set("7c9b5d", 2, owner="Rollout", **BROKEN)

    assert violations(bare) == [
        ("lane.registry", "ReplicaSet", "web-7c9b5d"),
        ("lane.secret", "ReplicaSet", "web-7c9b5d"),
        ("refs.configmap", "ReplicaSet", "web-7c9b5d"),
        ("refs.secret", "ReplicaSet", "web-7c9b5d"),
    ]
