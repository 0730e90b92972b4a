"""The whole corpus round-trips: deployed as published (client-side `kubectl apply`, then
server-side apply by another field manager, as a GitOps tool would), a realistic live edit
made to every object, everything synced back through one request and its approvals. Every
step succeeds, verification passes, the rescan is clean, and nothing else changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift import kube
from drift.engine.normalize import REVISION_ANNOTATION
from drift.models import FindingStatus
from remediation import services
from remediation.models import RemediationRequest, RequestStatus, StepStatus
from tests.integration.conftest import CORPUS, SHOP, apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]

# Server-written metadata the comparison leaves out: the Deployment controller counts
# template revisions, and a sync back to Git's template is a new revision.
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
# What a sync adds on purpose: the commit it applied (sync.lagging reads it); checked apart.
STAMPED = (REVISION_ANNOTATION,)


def declared() -> list[dict[str, Any]]:
    documents = []
    published = [p for p in sorted(CORPUS.rglob("*.yaml")) if "external" not in p.parts]
    for path in [*published, SHOP]:
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def edits_for(doc: dict[str, Any], index: int) -> list[str] | None:
    """A kubectl command line that drifts the object the way people do, by kind."""
    kind, name = doc["kind"], doc["metadata"]["name"]
    spec = doc.get("spec") or {}
    if kind == "Deployment":
        container = spec["template"]["spec"]["containers"][0]
        labels = doc["metadata"].get("labels") or {}
        if labels:
            label = sorted(labels)[-1]
            return ["label", f"deployment/{name}", "--overwrite", f"{label}={labels[label]}-x"]
        if spec.get("replicas"):
            return ["scale", f"deployment/{name}", f"--replicas={spec['replicas'] + 2}"]
        if container.get("env") and index % 2:
            return ["set", "env", f"deployment/{name}", f"{container['env'][0]['name']}=changed"]
        return ["set", "image", f"deployment/{name}", f"{container['name']}=evil.example/{name}:6"]
    if kind == "Service":
        if spec.get("type") != "LoadBalancer" and index % 2:
            port = spec["ports"][0]["port"] + 1
            return _json_patch(f"service/{name}", "replace", "/spec/ports/0/port", port)
        return _merge_patch(f"service/{name}", {"spec": {"selector": {"app": f"{name}-canary"}}})
    if kind == "NetworkPolicy":
        if (spec.get("ingress") or [{}])[0].get("from"):
            path = "/spec/ingress/0/from/0/podSelector/matchLabels"
            return _json_patch(f"networkpolicy/{name}", "replace", path, {"app": "intruder"})
        return _json_patch(f"networkpolicy/{name}", "replace", "/spec/policyTypes", ["Ingress"])
    if kind == "HorizontalPodAutoscaler":
        return _merge_patch(f"hpa/{name}", {"spec": {"maxReplicas": spec["maxReplicas"] + 5}})
    if kind == "ConfigMap":
        return _merge_patch(f"configmap/{name}", {"data": {"currency": "USD"}})
    if kind == "Secret":
        return _merge_patch(f"secret/{name}", {"stringData": {"password": "hunter2"}})
    if kind == "Role":
        return _json_patch(f"role/{name}", "add", "/rules/0/verbs/-", "delete")
    if kind == "RoleBinding":
        return _json_patch(f"rolebinding/{name}", "replace", "/subjects/0/name", "intruder")
    return None


def _json_patch(target: str, op: str, path: str, value: Any) -> list[str]:
    operation = json.dumps([{"op": op, "path": path, "value": value}])
    return ["patch", target, "--type=json", "-p", operation]


def _merge_patch(target: str, patch: dict[str, Any]) -> list[str]:
    return ["patch", target, "--type=merge", "-p", json.dumps(patch)]


def snapshot(admin: kube.Kube, namespace: str, documents: list[dict[str, Any]]) -> dict:
    """Every declared object as the cluster holds it, without what the server keeps for
    itself (versions, timestamps, managed fields, status, revision counters)."""
    discovery = admin.discover()
    autoscaled = {
        (d["spec"]["scaleTargetRef"]["kind"], d["spec"]["scaleTargetRef"]["name"])
        for d in documents
        if d["kind"] == "HorizontalPodAutoscaler"
    }
    found = {}
    for doc in documents:
        resource = discovery.find(doc["apiVersion"], doc["kind"])
        obj = admin.get(resource, namespace, doc["metadata"]["name"])
        assert obj is not None, doc["metadata"]["name"]
        metadata = obj["metadata"]
        annotations = {
            k: v for k, v in (metadata.get("annotations") or {}).items()
            if k not in SERVER_ANNOTATIONS + STAMPED
        }  # fmt: skip
        if (doc["kind"], doc["metadata"]["name"]) in autoscaled:
            obj["spec"].pop("replicas")  # the autoscaler's, which moves it when it likes
        found[doc["kind"], doc["metadata"]["name"]] = {
            **{k: v for k, v in obj.items() if k not in ("metadata", "status")},
            "labels": metadata.get("labels"),
            "annotations": annotations,
        }
    return found


def test_the_whole_corpus_is_synced_back_from_realistic_live_edits(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, requester, approver,
    second_approver, tasks, django_capture_on_commit_callbacks,
):  # fmt: skip
    documents = declared()
    apply_shop(devcluster, shop_repo, kube_namespace)
    apply_shop(devcluster, shop_repo, kube_namespace, server_side=True, manager="flux")
    admin = kube.Kube(Path(devcluster.kubeconfig("admin")).read_text())
    before = snapshot(admin, kube_namespace, documents)
    edited = set()
    for index, doc in enumerate(documents):
        command = edits_for(doc, index)
        if command:
            devcluster.kubectl(*command[:2], "-n", kube_namespace, *command[2:])
            edited.add((doc["kind"], doc["metadata"]["name"]))
    assert len(edited) == len(documents) > 40

    scan(shop_policy, scanner_cluster)
    drift = list(shop_policy.findings.open())
    assert {(f.kind, f.name) for f in drift} == edited
    assert {f.type for f in drift} == {"modified"}

    with django_capture_on_commit_callbacks(execute=True):
        request = services.request_remediation(drift, "sync", requester, "back to Git")
    assert request.steps.count() == len(edited)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(request.pk, approver, "checked")
        services.approve(request.pk, second_approver, "checked too")
    queued = tasks.queued("remediation.execute")
    while queued:
        services.execute(queued.pop(0))

    request = RemediationRequest.objects.get(pk=request.pk)
    assert request.status == RequestStatus.SUCCEEDED, (request.status_reason, request.result)
    assert request.result["verified"] is True
    assert set(request.steps.values_list("status", flat=True)) == {StepStatus.APPLIED}
    assert {f.status for f in shop_policy.findings.all()} == {FindingStatus.RESOLVED}
    scan(shop_policy, scanner_cluster)
    assert not shop_policy.findings.open().exists()
    after = snapshot(admin, kube_namespace, documents)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == set(), {key: (before[key], after[key]) for key in changed}
    head = shop_repo.git("rev-parse", "HEAD")
    web = admin.get(admin.discover().find("apps/v1", "Deployment"), kube_namespace, "web")
    assert web is not None and web["metadata"]["annotations"][REVISION_ANNOTATION] == head
