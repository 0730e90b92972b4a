"""`drift export`: the configuration as documents, the inverse of `drift apply`.

Credentials and hook secrets are never exported: a Cluster document has no
`spec.kubeconfig`, so applying an export to another installation needs them added back.
"""

from __future__ import annotations

from typing import Any

from drift.declarative.lane import FIELDS as LANE_FIELDS
from drift.declarative.reading import API_VERSION
from drift.models import Cluster, DriftPolicy, GitSource, Lane


def _document(
    kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _without_empty(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v not in ("", [], {}, None)}


def lane(lane: Lane) -> dict[str, Any]:
    return _document(
        "Lane",
        lane.name,
        _without_empty(
            {
                "description": lane.description,
                **{key: getattr(lane, field) for key, field in LANE_FIELDS.items()},
                "requires": lane.requires,
                **(lane.supply or {}),
                "admission": lane.admission,
            }
        ),
    )


def source(source: GitSource) -> dict[str, Any]:
    return _document(
        "GitSource",
        source.name,
        _without_empty({"url": source.url, "ref": source.ref, "path": source.path}),
    )


def cluster(cluster: Cluster) -> dict[str, Any]:
    spec = _without_empty(
        {"context": cluster.context, "lanes": sorted(lane.name for lane in cluster.lanes.all())}
    )
    if not cluster.enabled:
        spec["enabled"] = False
    return _document("Cluster", cluster.name, spec, cluster.labels)


def policy(policy: DriftPolicy) -> dict[str, Any]:
    clusters: dict[str, Any] = {}
    if policy.cluster_names:
        clusters["names"] = policy.cluster_names
    if policy.cluster_selector:
        clusters["selector"] = policy.cluster_selector
    spec = {
        "description": policy.description,
        "source": policy.source.name,
        "clusters": clusters,
        "namespace": policy.default_namespace,
        "namespaces": policy.namespaces,
        "kinds": policy.kinds,
        "objectSelector": policy.object_selector,
        "interval": f"{policy.interval_seconds}s",
        "syncGracePeriod": f"{policy.sync_grace_seconds}s",
        "mode": policy.mode,
        "detectUnmanaged": policy.detect_unmanaged,
        "undeclaredFields": policy.undeclared_fields,
        "trustedManagers": policy.trusted_managers,
        "gitopsManagers": policy.gitops_managers,
        "ignore": policy.ignore_rules,
        "severity": policy.severity_rules,
        "remediation": {
            "strategy": policy.strategy,
            "autoRemediateUpTo": policy.auto_remediate_up_to,
            "approvals": policy.approvals,
            "prune": policy.prune,
            "changeWindows": policy.change_windows,
            "expiry": f"{policy.request_expiry_seconds}s",
            "rollbackOnFailedVerification": policy.rollback_on_failed_verification,
            "flapping": {"count": policy.flap_count, "window": f"{policy.flap_window_seconds}s"},
        },
    }
    if not policy.enabled:
        spec["enabled"] = False
    return _document("DriftPolicy", policy.name, _without_empty(spec))


def everything() -> list[dict[str, Any]]:
    return [
        *(lane(item) for item in Lane.objects.all()),
        *(source(item) for item in GitSource.objects.all()),
        *(cluster(item) for item in Cluster.objects.prefetch_related("lanes")),
        *(policy(item) for item in DriftPolicy.objects.select_related("source")),
    ]
