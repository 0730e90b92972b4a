"""Git-to-runtime sync (alignment.rules.sync): the revision each object was last applied
from (Argo CD's tracking, Flux's labels, DriftControl's own annotation), `sync.lagging`
once Git's head is older than the grace, and `sync.verdict` where an Argo CD Application
or a Flux Kustomization says all is well and DriftControl does not agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from alignment import rules
from alignment.rules import sync
from drift.engine.normalize import REVISION_ANNOTATION, ObjectKey, key_of

NOW = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
HEAD = "8f3a9c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f901"
OLD = "1b2c3d4e5f60718293a4b5c6d7e8f9012a3b4c5d"
WEB_KEY = ObjectKey("apps", "Deployment", "shop", "web")
APP_KEY = ObjectKey("argoproj.io", "Application", "argocd", "shop")

# What Argo CD leaves on what it deploys with annotation tracking (its default since 3.0).
WEB = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
  annotations:
    argocd.argoproj.io/tracking-id: "shop:apps/Deployment:shop/web"
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: ghcr.io/stefanprodan/podinfo:6.5.4}]
"""
SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app.kubernetes.io/instance: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 9898}]
"""


def argo_app(status: str = "Synced", revision: str = HEAD, applied: str | None = None) -> Any:
    return yaml.safe_load(f"""
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: shop, namespace: argocd}}
spec:
  project: default
  source: {{repoURL: "https://git.example.com/shop/deploy.git", targetRevision: main, path: k8s}}
  destination: {{server: "https://kubernetes.default.svc", namespace: shop}}
status:
  sync:
    status: {status}
    revision: {revision}
    comparedTo:
      source: {{repoURL: "https://git.example.com/shop/deploy.git", targetRevision: main}}
  health: {{status: Healthy}}
  operationState:
    phase: Succeeded
    syncResult: {{revision: {applied or revision}}}
""")


def flux_kustomization(ready: str = "True", applied: str = f"main@sha1:{HEAD}") -> Any:
    return yaml.safe_load(f"""
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: shop, namespace: flux-system}}
spec:
  interval: 10m
  path: ./k8s
  prune: true
  sourceRef: {{kind: GitRepository, name: shop}}
status:
  observedGeneration: 1
  lastAppliedRevision: "{applied}"
  lastAttemptedRevision: "{applied}"
  conditions:
  - type: Ready
    status: "{ready}"
    reason: ReconciliationSucceeded
    message: "Applied revision: {applied}"
    lastTransitionTime: "2026-12-01T09:50:00Z"
""")


def objects(*texts: str) -> dict[ObjectKey, Any]:
    loaded = [yaml.safe_load(text) for text in texts]
    return {key_of(obj): obj for obj in loaded}


def judged(
    objs: dict[ObjectKey, Any],
    *apps: Any,
    head_age: timedelta | None = timedelta(minutes=25),
    drifted: frozenset[ObjectKey] = frozenset(),
) -> list[rules.Violation]:
    readers = {"Application": sync.argo_application, "Kustomization": sync.flux_kustomization}
    circumstances = rules.Circumstances(
        now=NOW,
        head=rules.GitHead(HEAD, NOW - head_age if head_age is not None else None),
        gitops=tuple(readers[app["kind"]](app) for app in apps),
        drifted=drifted,
    )
    return rules.evaluate(
        objs, circumstances=circumstances, only=lambda rule: rule.id.startswith("sync.")
    )


# --- what each tool reports ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "commit"),
    [(f"main@sha1:{HEAD}", HEAD), (f"main/{HEAD}", HEAD), (f"sha1:{HEAD}", HEAD),
     (f"v1.2.0@sha1:{OLD}", OLD), (HEAD, HEAD), ("", "")],
)  # fmt: skip
def test_it_reads_each_flux_revision_format(reported: str, commit: str) -> None:
    assert sync.flux_revision(reported) == commit


def test_an_out_of_sync_application_runs_what_its_last_sync_applied() -> None:
    app = sync.argo_application(argo_app("OutOfSync", HEAD, applied=OLD))

    assert (app.verdict, app.in_sync, app.revision) == ("OutOfSync", False, OLD)


# --- sync.lagging -------------------------------------------------------------------------


def test_an_object_argo_cd_applied_from_an_older_revision_lags_once_the_grace_is_over() -> None:
    found = judged(objects(WEB), argo_app("OutOfSync", HEAD, applied=OLD))

    assert [(v.rule, v.key) for v in found] == [("sync.lagging", WEB_KEY)]
    assert found[0].message == (
        "Deployment.apps shop/web runs revision 1b2c3d4e5f60 (per Argo CD Application "
        "argocd/shop), but Git's head has been 8f3a9c1d2e4b for 25m"
    )
    assert found[0].severity == "medium"
    assert found[0].evidence[0].key == APP_KEY
    assert found[0].evidence[0].path == "/status/operationState/syncResult/revision"


def test_the_same_object_within_the_grace_or_at_the_head_is_clean() -> None:
    lagging = argo_app("OutOfSync", HEAD, applied=OLD)

    assert judged(objects(WEB), lagging, head_age=timedelta(minutes=9)) == []
    assert judged(objects(WEB), argo_app("Synced", HEAD)) == []


def test_without_a_head_age_or_a_revision_nothing_is_judged() -> None:
    lagging = argo_app("OutOfSync", HEAD, applied=OLD)

    assert judged(objects(WEB), lagging, head_age=None) == []
    assert judged(objects(WEB)) == []  # no Application: Argo CD's annotation says nothing


def test_flux_labels_name_the_kustomization_whose_revision_an_object_runs() -> None:
    service = SERVICE.replace(
        "{app.kubernetes.io/instance: shop}",
        "{kustomize.toolkit.fluxcd.io/name: shop, kustomize.toolkit.fluxcd.io/namespace: "
        "flux-system}",
    )
    found = judged(objects(service), flux_kustomization("True", f"main@sha1:{OLD}"))

    assert [(v.rule, str(v.key)) for v in found] == [
        ("sync.lagging", "Service shop/web"),
        ("sync.verdict", "Kustomization.kustomize.toolkit.fluxcd.io flux-system/shop"),
    ]
    assert "per Flux Kustomization flux-system/shop" in found[0].message


def test_argo_cds_instance_label_counts_only_for_one_application_of_that_name() -> None:
    lagging = argo_app("OutOfSync", HEAD, applied=OLD)
    twin = {**lagging, "metadata": {"name": "shop", "namespace": "team-b"}}

    assert [v.key.kind for v in judged(objects(SERVICE), lagging)] == ["Service"]
    assert judged(objects(SERVICE), lagging, twin) == []


def test_a_tracking_id_copied_onto_another_object_claims_nothing() -> None:
    copied = WEB.replace("name: web\n", "name: web-canary\n", 1)

    assert judged(objects(copied), argo_app("OutOfSync", HEAD, applied=OLD)) == []


def test_driftcontrols_own_annotation_lags_only_while_the_object_differs_from_the_head() -> None:
    stamped = WEB.replace(
        'argocd.argoproj.io/tracking-id: "shop:apps/Deployment:shop/web"',
        f"{REVISION_ANNOTATION}: {OLD}",
    )

    found = judged(objects(stamped), drifted=frozenset({WEB_KEY}))

    assert [v.rule for v in found] == ["sync.lagging"]
    assert "(per DriftControl)" in found[0].message
    assert found[0].evidence[0].path == "/metadata/annotations/driftcontrol.io~1revision"
    # Put back at OLD, and Git's head declares it the same: nothing newer to run.
    assert judged(objects(stamped)) == []


# --- sync.verdict -------------------------------------------------------------------------


def test_synced_at_the_head_while_an_object_it_manages_drifted_is_a_disagreement() -> None:
    found = judged(objects(WEB, SERVICE), argo_app("Synced", HEAD), drifted=frozenset({WEB_KEY}))

    assert [(v.rule, v.key) for v in found] == [("sync.verdict", APP_KEY)]
    assert found[0].message == (
        "Argo CD Application argocd/shop reports Synced at Git's head 8f3a9c1d2e4b, yet "
        "DriftControl found 1 of its objects drifted: Deployment.apps shop/web"
    )
    assert found[0].severity == "high"
    assert [e.key for e in found[0].evidence] == [WEB_KEY]


def test_synced_at_the_head_with_nothing_drifted_is_clean() -> None:
    assert judged(objects(WEB, SERVICE), argo_app("Synced", HEAD)) == []


def test_an_application_that_says_out_of_sync_agrees_with_drift() -> None:
    out_of_sync = argo_app("OutOfSync", HEAD)

    assert judged(objects(WEB), out_of_sync, drifted=frozenset({WEB_KEY})) == []


def test_synced_at_an_old_revision_disagrees_once_the_head_is_older_than_the_grace() -> None:
    behind = argo_app("Synced", OLD)

    found = judged(objects(WEB), behind, drifted=frozenset({WEB_KEY}))

    assert [(v.rule, v.key) for v in found] == [
        ("sync.lagging", WEB_KEY),
        ("sync.verdict", APP_KEY),
    ]
    assert found[1].message == (
        "Argo CD Application argocd/shop reports Synced applied revision 1b2c3d4e5f60, but "
        "Git's head has been 8f3a9c1d2e4b for 25m"
    )
    # Within the grace the tool may not have seen the head yet; the drift is its lag.
    assert judged(objects(WEB), behind, head_age=timedelta(minutes=3), drifted={WEB_KEY}) == []


def test_a_ready_kustomization_at_the_head_disagrees_with_drift_in_what_it_applied() -> None:
    flux_web = WEB.replace(
        'argocd.argoproj.io/tracking-id: "shop:apps/Deployment:shop/web"',
        "kustomize.toolkit.fluxcd.io/checksum: 1f2e",
    ).replace(
        "labels: {app: web}\n  annotations",
        "labels: {app: web, kustomize.toolkit.fluxcd.io/name: shop, "
        "kustomize.toolkit.fluxcd.io/namespace: flux-system}\n  annotations",
        1,
    )

    found = judged(objects(flux_web), flux_kustomization(), drifted=frozenset({WEB_KEY}))

    assert [v.rule for v in found] == ["sync.verdict"]
    assert found[0].message.startswith("Flux Kustomization flux-system/shop reports Ready at")
    assert judged(objects(flux_web), flux_kustomization("False"), drifted={WEB_KEY}) == []
    assert judged(objects(flux_web), flux_kustomization()) == []


def test_an_application_that_deploys_nothing_this_evaluation_holds_is_not_judged() -> None:
    assert judged(objects(WEB.replace("shop:apps", "billing:apps")), argo_app("Synced", OLD)) == []


@pytest.mark.parametrize(
    ("minutes", "text"), [(0, "0m"), (12, "12m"), (60, "1h"), (65, "1h5m"), (1501, "1d1h1m")]
)
def test_how_long_reads_like_a_person_would_say_it(minutes: int, text: str) -> None:
    assert sync.duration(timedelta(minutes=minutes, seconds=30)) == text
