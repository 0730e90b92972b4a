"""Git's side of a scan (alignment.scanning._desired_violations): judged only where Git
differs from what runs, and on what may refer to it; the rest is the live verdict."""

from __future__ import annotations

from types import SimpleNamespace

from alignment import rules
from alignment.scanning import _desired_violations
from drift.engine.normalize import DesiredObject, ObjectKey
from tests.alignment.test_references import objects

WORKLOAD_KINDS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: registry.example.com/shop/web:1.4.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80, protocol: TCP}]}
"""


def reading(live: dict, git: dict, drifted: set[ObjectKey]) -> SimpleNamespace:  # type: ignore[type-arg]
    declared = {
        key: DesiredObject(key, obj["apiVersion"], {}, f"k8s/{key.name}.yaml:1", obj)
        for key, obj in git.items()
    }
    return SimpleNamespace(
        state=SimpleNamespace(objects=declared),
        live=SimpleNamespace(objects=live),
        drift=[SimpleNamespace(key=key) for key in drifted],
        policy=SimpleNamespace(source=SimpleNamespace(url="https://git.example/shop.git")),
    )


def git_side(live: dict, git: dict, drifted: set[ObjectKey]) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    found = _desired_violations(reading(live, git, drifted), rules.everything, (), ())  # type: ignore[arg-type]
    return [(v.rule, str(v.key)) for v in found]


def test_a_service_git_leaves_alone_breaks_when_git_relabels_what_it_selects() -> None:
    live = objects(WORKLOAD_KINDS)
    git = objects(WORKLOAD_KINDS.replace("labels: {app: web}}", "labels: {app: web-v2}}", 1))
    web = ObjectKey("apps", "Deployment", "shop", "web")

    assert git_side(live, git, {web}) == [("refs.service-selector", "Service shop/web")]


def test_nothing_differs_nothing_is_judged_again() -> None:
    live = objects(WORKLOAD_KINDS)
    broken = objects(WORKLOAD_KINDS.replace("labels: {app: web}}", "labels: {app: web-v2}}", 1))

    # Even a broken Git is the live verdict's business when the scan saw no difference.
    assert git_side(live, broken, set()) == []
