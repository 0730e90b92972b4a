"""What a scan reads and how it judges it: the kinds to read, the live state it got,
missing and unmanaged objects, and the policy's rules for the engine. Shared by scheduled
scans, the watcher and remediation's verification."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drift import kube
from drift.engine import normalize
from drift.engine.normalize import ObjectKey, split_api_version
from drift.engine.policy import EnginePolicy
from drift.models import DriftPolicy, FindingType, UndeclaredFields
from drift.services import desired, ledger

# Kinds that churn by design or belong to the control plane: never "unmanaged" unless a
# policy names them in kinds.include.
NOISY_KINDS = frozenset(
    {
        "Event",
        "Endpoints",
        "EndpointSlice",
        "Lease",
        "ControllerRevision",
        "Pod",
        "ReplicaSet",
        "Job",
        "ComponentStatus",
        "Node",
        "CSINode",
        "CertificateSigningRequest",
        "APIService",
        "TokenReview",
        "SubjectAccessReview",
        "SelfSubjectAccessReview",
        "Binding",
    }
)
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})


def engine_policy(policy: DriftPolicy) -> EnginePolicy:
    return EnginePolicy.from_documents(
        ignore=policy.ignore_rules,
        severity=policy.severity_rules,
        gitops_managers=policy.gitops_managers,
        trusted_managers=policy.trusted_managers,
        report_undeclared=policy.undeclared_fields == UndeclaredFields.REPORT,
    )


@dataclass
class LiveState:
    """What was read from the cluster, and which kinds were read completely."""

    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    read: set[tuple[str, str]] = field(default_factory=set)  # (group, kind)
    failures: list[str] = field(default_factory=list)
    # Autoscalers own replicas wherever they are, in the policy's scope or not.
    autoscalers: list[dict[str, Any]] = field(default_factory=list)


def resources_to_read(
    policy: DriftPolicy,
    state: desired.DesiredState,
    discovery: kube.Discovery,
    scope: desired.Scope,
) -> list[kube.Resource]:
    """One resource per (group, kind): in the version Git declares it (the first one, if Git
    uses several; those declared in another version are read one by one)."""
    chosen: dict[tuple[str, str], kube.Resource] = {}
    for api_version, kind in sorted(state.kinds()):
        resource = discovery.find(api_version, kind)
        if resource is not None:
            chosen.setdefault((resource.group, kind), resource)
    if policy.detect_unmanaged:
        for resource in discovery.listable():
            explicitly = resource.kind in scope.kinds_include
            if not scope.kind_in_scope(resource.kind) or (
                resource.kind in NOISY_KINDS and not explicitly
            ):
                continue
            chosen.setdefault((resource.group, resource.kind), resource)
    if any(kind in SCALABLE_KINDS for _, kind in chosen):
        hpa = discovery.preferred.get(("autoscaling", "HorizontalPodAutoscaler"))
        if hpa is not None:
            chosen.setdefault((hpa.group, hpa.kind), hpa)
    return list(chosen.values())


def hpa_targets(state: desired.DesiredState, live: LiveState) -> set[ObjectKey]:
    """Objects whose replicas an autoscaler owns, from declared and live autoscalers."""
    autoscalers: list[dict[str, Any]] = [
        o.manifest for o in state.objects.values() if o.key.kind == "HorizontalPodAutoscaler"
    ]
    autoscalers += live.autoscalers
    targets = set()
    for autoscaler in autoscalers:
        ref = (autoscaler.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") and ref.get("name"):
            group, _ = split_api_version(str(ref.get("apiVersion", "")))
            namespace = (autoscaler.get("metadata") or {}).get("namespace", "")
            targets.add(ObjectKey(group, ref["kind"], namespace, ref["name"]))
    return targets


def missing(
    key: ObjectKey,
    obj: normalize.DesiredObject,
    rules: EnginePolicy,
    hasher: normalize.SecretHasher,
) -> ledger.Observation:
    manifest = normalize.redacted(obj.manifest, hasher)
    return ledger.Observation(
        key,
        obj.api_version,
        FindingType.MISSING,
        rules.level(key, None),
        {
            "paths": [],
            "fields": [],
            "desired": manifest,
            "patch": [{"op": "add", "path": "", "value": manifest}],
        },
        [],
        None,
        obj.source,
    )


def unmanaged(
    state: desired.DesiredState,
    live: LiveState,
    scope: desired.Scope,
    rules: EnginePolicy,
    hasher: normalize.SecretHasher,
) -> list[ledger.Observation]:
    found = []
    for key, obj in live.objects.items():
        if key in state.objects or (key.group, key.kind) not in live.read:
            continue
        if (
            key.kind in NOISY_KINDS
            and key.kind not in scope.kinds_include
            or _belongs_to_the_system(obj)
        ):
            continue
        managers = [
            m
            for m in (obj.get("metadata") or {}).get("managedFields") or []
            if m.get("manager") not in rules.trusted_managers
        ]
        found.append(
            ledger.Observation(
                key,
                str(obj.get("apiVersion", "")),
                FindingType.UNMANAGED,
                rules.level(key, None),
                {
                    "paths": [],
                    "fields": [],
                    "live": normalize.redacted(obj, hasher),
                    "patch": [{"op": "remove", "path": ""}],
                },
                [
                    {
                        "manager": m.get("manager", ""),
                        "operation": m.get("operation", ""),
                        "time": m.get("time", ""),
                    }
                    for m in managers
                ],
                live=obj,
            )
        )
    return found


def _belongs_to_the_system(obj: dict[str, Any]) -> bool:
    """Objects Kubernetes creates by itself or that a controller owns."""
    metadata = obj.get("metadata") or {}
    name, kind = metadata.get("name", ""), obj.get("kind")
    return (
        bool(metadata.get("ownerReferences"))
        or (kind == "ServiceAccount" and name == "default")
        or (kind == "ConfigMap" and name == "kube-root-ca.crt")
        or (kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token")
        or name.startswith("system:")
        or (metadata.get("labels") or {}).get("kubernetes.io/bootstrapping") == "rbac-defaults"
    )
