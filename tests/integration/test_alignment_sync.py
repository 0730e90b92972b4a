"""Git-to-runtime sync on the local API server: Argo CD's and Flux's real CRDs installed,
the shop deployed as each tool deploys it (its tracking metadata on every object), their
Applications and Kustomizations written with the status the tools would report, and
DriftControl's own revision annotation on what a sync puts back.

Each rule has a clean case and a violating one: `sync.verdict` (a tool that says Synced
or Ready while an object it manages drifted, or while it applied an older revision) and
`sync.lagging` (objects from an older revision once Git's head is older than the grace;
the head's age is backdated rather than waited for)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.utils import timezone
from kubernetes import client

from drift.engine.normalize import REVISION_ANNOTATION
from drift.models import DriftPolicy, FindingStatus, FindingType, GitSource
from remediation import services
from tests.integration.conftest import GitRepo, apply_shop, findings, scan, server_side_payloads

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
GITOPS = Path(__file__).resolve().parent / "manifests" / "gitops"
ARGO, FLUX = ("argoproj.io", "v1alpha1", "applications"), (
    "kustomize.toolkit.fluxcd.io", "v1", "kustomizations",
)  # fmt: skip
ALIGNMENT = FindingType.ALIGNMENT


@pytest.fixture(scope="module")
def gitops_crds(devcluster: Any) -> None:
    """The tools' CRDs on test-a, and the scanner allowed to list their objects. Kept
    afterwards: cluster-wide, and the same for every test that installs them."""
    for name in ("scanner-rbac.yaml", "argocd-application-crd.yaml", "flux-kustomization-crd.yaml"):
        devcluster.kubectl(
            "apply", "--server-side", "--force-conflicts", "--field-manager=driftcontrol-tests",
            "-f", str(GITOPS / name),
        )  # fmt: skip
    devcluster.kubectl(
        "wait", "--for=condition=established", "--timeout=60s",
        "crd/applications.argoproj.io", "crd/kustomizations.kustomize.toolkit.fluxcd.io",
    )  # fmt: skip


def deploy(
    devcluster: Any,
    repo: GitRepo,
    namespace: str,
    manager: str,
    track: Callable[[dict[str, Any]], None],
    server_side: bool = False,
) -> None:
    """The repository deployed as a GitOps tool deploys it: each manifest with the tool's
    tracking metadata added, applied under the tool's field manager."""
    source = server_side_payloads(devcluster, repo) if server_side else repo.path / "k8s"
    target = repo.path.parent / f"{repo.path.name}-{manager}"
    shutil.rmtree(target, ignore_errors=True)
    for path in sorted(source.rglob("*.yaml")):
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
        for document in documents:
            document["metadata"]["namespace"] = namespace
            track(document)
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump_all(documents))
    side = ["--server-side", "--force-conflicts"] if server_side else []
    devcluster.kubectl(
        "apply", *side, f"--field-manager={manager}", "-n", namespace, "-R", "-f", str(target)
    )


def argo_tracked(namespace: str) -> Callable[[dict[str, Any]], None]:
    def track(document: dict[str, Any]) -> None:
        group = document["apiVersion"].rpartition("/")[0]
        name = document["metadata"]["name"]
        tracking = f"{namespace}_shop:{group}/{document['kind']}:{namespace}/{name}"
        document["metadata"].setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = (
            tracking
        )

    return track


def flux_tracked(namespace: str) -> Callable[[dict[str, Any]], None]:
    def track(document: dict[str, Any]) -> None:
        document["metadata"].setdefault("labels", {}).update(
            {
                "kustomize.toolkit.fluxcd.io/name": "shop",
                "kustomize.toolkit.fluxcd.io/namespace": namespace,
            }
        )

    return track


def argo_status(repo: GitRepo, namespace: str, verdict: str, revision: str) -> dict[str, Any]:
    source = {"repoURL": str(repo.path), "targetRevision": "main", "path": "k8s"}
    destination = {"server": "https://kubernetes.default.svc", "namespace": namespace}
    return {
        "sync": {"status": verdict, "revision": revision,
                 "comparedTo": {"source": source, "destination": destination}},
        "health": {"status": "Healthy"},
        "sourceType": "Directory",
        "reconciledAt": "2026-12-01T10:00:00Z",
        "operationState": {
            "operation": {"sync": {"revision": revision}},
            "phase": "Succeeded",
            "message": "successfully synced (all tasks run)",
            "startedAt": "2026-12-01T09:59:50Z",
            "finishedAt": "2026-12-01T10:00:00Z",
            "syncResult": {"revision": revision, "source": source},
        },
    }  # fmt: skip


def put_application(
    devcluster: Any, repo: GitRepo, namespace: str, verdict: str, revision: str
) -> None:
    """An Application as Argo CD keeps it: its CRD has no status subresource, so Argo CD
    writes status with the object, and so does this."""
    group, version, plural = ARGO
    with devcluster.client() as api:
        custom = client.CustomObjectsApi(api)
        status = argo_status(repo, namespace, verdict, revision)
        try:
            app = custom.get_namespaced_custom_object(group, version, namespace, plural, "shop")
        except client.ApiException as error:
            assert error.status == 404
            app = {
                "apiVersion": f"{group}/{version}",
                "kind": "Application",
                "metadata": {"name": "shop", "namespace": namespace},
                "spec": {
                    "project": "default",
                    "source": status["sync"]["comparedTo"]["source"],
                    "destination": status["sync"]["comparedTo"]["destination"],
                },
                "status": status,
            }
            custom.create_namespaced_custom_object(group, version, namespace, plural, app)
            return
        app["status"] = status
        custom.replace_namespaced_custom_object(group, version, namespace, plural, "shop", app)


def put_kustomization(devcluster: Any, namespace: str, ready: str, revision: str) -> None:
    """A Kustomization, then its status written through the status subresource, as
    kustomize-controller does."""
    group, version, plural = FLUX
    with devcluster.client() as api:
        custom = client.CustomObjectsApi(api)
        created = custom.create_namespaced_custom_object(group, version, namespace, plural, {
            "apiVersion": f"{group}/{version}",
            "kind": "Kustomization",
            "metadata": {"name": "shop", "namespace": namespace},
            "spec": {"interval": "10m", "path": "./k8s", "prune": True,
                     "sourceRef": {"kind": "GitRepository", "name": "shop"}},
        })  # fmt: skip
        applied = f"main@sha1:{revision}"
        created["status"] = {
            "observedGeneration": 1,
            "lastAppliedRevision": applied,
            "lastAttemptedRevision": applied,
            "conditions": [{
                "type": "Ready", "status": ready, "reason": "ReconciliationSucceeded",
                "message": f"Applied revision: {applied}",
                "lastTransitionTime": "2026-12-01T10:00:00Z", "observedGeneration": 1,
            }],
        }  # fmt: skip
        custom.replace_namespaced_custom_object_status(
            group, version, namespace, plural, "shop", created
        )


def head_moved_minutes_ago(policy: DriftPolicy, minutes: int) -> None:
    GitSource.objects.filter(pk=policy.source_id).update(
        revision_since=timezone.now() - timedelta(minutes=minutes)
    )


def alignment(policy: DriftPolicy) -> dict[tuple[str, str], Any]:
    """Open alignment findings by (rule, name)."""
    return {(f.rule, f.name): f for f in policy.findings.open().filter(type=ALIGNMENT)}


# --- sync.verdict -------------------------------------------------------------------------


def test_an_application_synced_while_its_deployment_drifted_disagrees_until_it_says_so(
    gitops_crds, devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns, head = kube_namespace, shop_repo.git("rev-parse", "HEAD")
    deploy(devcluster, shop_repo, ns, "argocd-controller", argo_tracked(ns))
    put_application(devcluster, shop_repo, ns, "Synced", head)

    # Argo CD's tracking annotation is not drift, and Synced at the head agrees.
    assert not scan(shop_policy, scanner_cluster).partial
    assert findings(shop_policy) == {}

    devcluster.kubectl("set", "image", "-n", ns, "deployment/web", "web=evil.example/web:6.6.6")
    scan(shop_policy, scanner_cluster)

    found = findings(shop_policy)
    assert set(found) == {("Deployment", "web", "modified"), ("Application", "shop", ALIGNMENT)}
    verdict = found["Application", "shop", ALIGNMENT]
    assert (verdict.rule, verdict.severity, verdict.namespace) == ("sync.verdict", "high", ns)
    assert verdict.diff["message"] == (
        f"Argo CD Application {ns}/shop reports Synced at Git's head {head[:12]}, yet "
        f"DriftControl found 1 of its objects drifted: Deployment.apps {ns}/web"
    )
    assert [(e["kind"], e["name"]) for e in verdict.diff["evidence"]] == [("Deployment", "web")]

    # Once Argo CD refreshes it says OutOfSync too: the verdicts agree again.
    put_application(devcluster, shop_repo, ns, "OutOfSync", head)
    scan(shop_policy, scanner_cluster)

    verdict.refresh_from_db()
    assert verdict.status == FindingStatus.RESOLVED


def test_a_kustomization_ready_at_the_head_while_its_deployment_drifted_disagrees(
    gitops_crds, devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns, head = kube_namespace, shop_repo.git("rev-parse", "HEAD")
    deploy(devcluster, shop_repo, ns, "kustomize-controller", flux_tracked(ns), server_side=True)
    put_kustomization(devcluster, ns, "True", head)

    # Flux's labels, applied server-side by kustomize-controller, are not drift either.
    scan(shop_policy, scanner_cluster)
    assert findings(shop_policy) == {}

    devcluster.kubectl("set", "env", "-n", ns, "deployment/web", "MODE=debug")
    scan(shop_policy, scanner_cluster)

    found = alignment(shop_policy)
    assert list(found) == [("sync.verdict", "shop")]
    assert found["sync.verdict", "shop"].kind == "Kustomization"
    assert found["sync.verdict", "shop"].diff["message"] == (
        f"Flux Kustomization {ns}/shop reports Ready at Git's head {head[:12]}, yet "
        f"DriftControl found 1 of its objects drifted: Deployment.apps {ns}/web"
    )


# --- sync.lagging -------------------------------------------------------------------------


def test_objects_an_application_applied_from_an_older_revision_lag_after_the_grace(
    gitops_crds, devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    ns, deployed = kube_namespace, shop_repo.git("rev-parse", "HEAD")
    deploy(devcluster, shop_repo, ns, "argocd-controller", argo_tracked(ns))
    put_application(devcluster, shop_repo, ns, "Synced", deployed)
    scan(shop_policy, scanner_cluster)
    settings = shop_repo.path / "k8s" / "shop.yaml"
    settings.write_text(settings.read_text().replace("currency: EUR", "currency: USD"))
    head = shop_repo.commit("prices in dollars")

    # Git's head moved a moment ago: Argo CD has its grace to catch up.
    scan(shop_policy, scanner_cluster)
    assert alignment(shop_policy) == {}

    head_moved_minutes_ago(shop_policy, 15)
    scan(shop_policy, scanner_cluster)

    found = alignment(shop_policy)
    assert {rule for rule, _ in found} == {"sync.lagging", "sync.verdict"}
    assert found["sync.lagging", "web"].diff["message"] == (
        f"Deployment.apps {ns}/web runs revision {deployed[:12]} (per Argo CD Application "
        f"{ns}/shop), but Git's head has been {head[:12]} for 15m"
    )
    assert found["sync.lagging", "web"].severity == "medium"
    assert ("sync.lagging", "shop-settings") in found  # every object it tracks
    assert found["sync.verdict", "shop"].diff["message"] == (
        f"Argo CD Application {ns}/shop reports Synced applied revision {deployed[:12]}, "
        f"but Git's head has been {head[:12]} for 15m"
    )


def test_a_sync_stamps_the_revision_which_is_no_drift_and_lags_once_git_moves_on(
    gitops_crds, devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace,
    requester, approver, tasks, django_capture_on_commit_callbacks,
):  # fmt: skip
    ns, first = kube_namespace, shop_repo.git("rev-parse", "HEAD")
    apply_shop(devcluster, shop_repo, ns)
    devcluster.kubectl("set", "image", "-n", ns, "deployment/web", "web=evil.example/web:6.6.6")
    scan(shop_policy, scanner_cluster)
    drifted = findings(shop_policy)["Deployment", "web", "modified"]
    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation([drifted], "sync", requester, "revert it")
        services.approve(request.pk, approver, "yes")
    for request_id in tasks.queued("remediation.execute"):
        services.execute(request_id)

    assert annotations_of_web(devcluster, ns)[REVISION_ANNOTATION] == first
    # DriftControl's own annotation is not drift: the re-scan finds the shop clean.
    scan(shop_policy, scanner_cluster)
    assert findings(shop_policy) == {}

    shop = shop_repo.path / "k8s" / "shop.yaml"
    shop.write_text(shop.read_text().replace("value: production", "value: staging"))
    head = shop_repo.commit("web runs staging")
    scan(shop_policy, scanner_cluster)
    assert alignment(shop_policy) == {}  # web differs from the new head, within the grace

    head_moved_minutes_ago(shop_policy, 30)
    scan(shop_policy, scanner_cluster)

    found = alignment(shop_policy)
    assert list(found) == [("sync.lagging", "web")]  # the others were never put back
    assert found["sync.lagging", "web"].diff["message"] == (
        f"Deployment.apps {ns}/web runs revision {first[:12]} (per DriftControl), but Git's "
        f"head has been {head[:12]} for 30m"
    )
    assert found["sync.lagging", "web"].diff["paths"] == [
        "/metadata/annotations/driftcontrol.io~1revision"
    ]


def annotations_of_web(devcluster: Any, namespace: str) -> dict[str, str]:
    with devcluster.client() as api:
        web = client.AppsV1Api(api).read_namespaced_deployment("web", namespace)
    return dict(web.metadata.annotations or {})
