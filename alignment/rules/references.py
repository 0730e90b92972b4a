"""References that resolve: what a deployed object names must exist in its namespace.

Evaluated per namespace on what one evaluation holds (Git's objects for `drift check`, a
scan's live objects); a reference to a kind the evaluation did not read is left alone, and
optional references (`optional: true`) never count.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from alignment.rules import pods
from alignment.rules.base import Evidence, Objects, Reach, Violation, rule
from drift.engine.normalize import ObjectKey

# Roles every cluster has: a binding to them needs no ClusterRole in Git.
BUILT_IN_CLUSTER_ROLES = frozenset({"cluster-admin", "admin", "edit", "view"})
RBAC = "rbac.authorization.k8s.io"
WORKLOADS = tuple(pods.TEMPLATES)

_POD_KINDS = {
    "ConfigMap": "refs.configmap",
    "Secret": "refs.secret",
    "ServiceAccount": "refs.service-account",
    "PersistentVolumeClaim": "refs.claim",
}
_RUNBOOK = """A pod that names a {kind} which does not exist does not start ({effect}).
Create the {kind} (in Git, next to the workload), fix the name, or mark the reference
`optional: true` if the workload runs without it."""


def _in(key: ObjectKey) -> str:
    return f"namespace {key.namespace}" if key.namespace else "its namespace"


def _api_version(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", ""))


def _missing(
    key: ObjectKey, api_version: str, rule_id: str, target: ObjectKey, path: str
) -> Violation:
    message = f"{key} names {target.kind} {target.name}, which does not exist in {_in(target)}"
    return Violation(
        rule_id,
        key,
        api_version,
        message,
        (Evidence(key, path, "names it"), Evidence(target, "", "missing")),
    )


def _pod_references(objects: Objects, reach: Reach, kind: str) -> Iterator[Violation]:
    if not reach.kind("", kind):
        return
    for key, obj in reach.judged(objects):
        if pods.judged_on_its_owner(obj):
            continue
        for reference in pods.references(key, obj):
            target = ObjectKey("", reference.kind, key.namespace, reference.name)
            missing = target not in objects and reach.holds(target)
            if reference.kind == kind and not reference.optional and missing:
                yield _missing(key, _api_version(obj), _POD_KINDS[kind], target, reference.path)


def _pod_rule(kind: str, effect: str) -> None:
    def check(objects: Objects, reach: Reach) -> Iterator[Violation]:
        return _pod_references(objects, reach, kind)

    title = f"Pods name {kind}s that exist"
    rule(_POD_KINDS[kind], "high", title, _RUNBOOK.format(kind=kind, effect=effect))(check)


_pod_rule("ConfigMap", "CreateContainerConfigError, or the volume never mounts")
_pod_rule("Secret", "CreateContainerConfigError, or the image cannot be pulled")
_pod_rule("ServiceAccount", "the ReplicaSet cannot create its pods")
_pod_rule("PersistentVolumeClaim", "the pod stays Pending")


def _labels_by_namespace(objects: Objects) -> dict[str, list[Mapping[str, str]]]:
    found: dict[str, list[Mapping[str, str]]] = {}
    for key, obj in objects.items():
        labels = pods.template_labels(key, obj)
        if labels is not None:
            found.setdefault(key.namespace, []).append(labels)
    return found


def _workloads_known(reach: Reach) -> bool:
    return all(reach.kind(group, kind) for group, kind in WORKLOADS if kind != "Pod")


@rule(
    "refs.service-selector",
    "medium",
    "Services select workloads",
    """A Service whose selector matches no pod template sends its traffic nowhere: its
    endpoints stay empty. Fix the selector or the workload's template labels.""",
)
def service_selector(objects: Objects, reach: Reach) -> Iterator[Violation]:
    if not _workloads_known(reach):
        return
    labels = _labels_by_namespace(objects)
    for key, obj in reach.judged(objects):
        spec = obj.get("spec") or {}
        selector = spec.get("selector")
        if key.kind != "Service" or key.group or not selector or spec.get("type") == "ExternalName":
            continue
        wanted = {"matchLabels": selector}
        if not any(pods.selects(wanted, found) for found in labels.get(key.namespace, [])):
            text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
            yield Violation(
                "refs.service-selector",
                key,
                _api_version(obj),
                f"{key} selects {text}: no workload in {_in(key)} has those labels",
                (Evidence(key, "/spec/selector", "selects nothing"),),
            )


def _backends(spec: Mapping[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(service, port, path) of an Ingress's backends, networking/v1 and v1beta1 shapes."""
    candidates = [
        ("/spec/defaultBackend", spec.get("defaultBackend")),
        ("/spec/backend", spec.get("backend")),
    ]
    for r, entry in enumerate(spec.get("rules") or []):
        for p, path in enumerate(((entry or {}).get("http") or {}).get("paths") or []):
            candidates.append(
                (f"/spec/rules/{r}/http/paths/{p}/backend", (path or {}).get("backend"))
            )
    for pointer, backend in candidates:
        if not isinstance(backend, Mapping):
            continue
        service = backend.get("service")
        if isinstance(service, Mapping) and service.get("name"):
            port = service.get("port") or {}
            yield str(service["name"]), port.get("number") or port.get("name"), f"{pointer}/service"
        elif backend.get("serviceName"):
            yield str(backend["serviceName"]), backend.get("servicePort"), f"{pointer}/serviceName"


@rule(
    "refs.ingress-backend",
    "high",
    "Ingress backends name existing Services and ports",
    """An Ingress path whose Service (or port) does not exist answers 503. Point the
    backend at an existing Service and one of its ports, by number or name.""",
)
def ingress_backend(objects: Objects, reach: Reach) -> Iterator[Violation]:
    if not reach.kind("", "Service"):
        return
    for key, obj in reach.judged(objects):
        if key.kind != "Ingress":
            continue
        for name, port, pointer in _backends(obj.get("spec") or {}):
            target = ObjectKey("", "Service", key.namespace, name)
            service = objects.get(target)
            if service is None:
                yield _missing(key, _api_version(obj), "refs.ingress-backend", target, pointer)
            elif port is not None and not _has_port(service, port):
                yield Violation(
                    "refs.ingress-backend",
                    key,
                    _api_version(obj),
                    f"{key} sends traffic to port {port} of Service {name}, which has no such port",
                    (
                        Evidence(key, pointer, "names it"),
                        Evidence(target, "/spec/ports", "no such port"),
                    ),
                )


def _has_port(service: Mapping[str, Any], port: Any) -> bool:
    for entry in (service.get("spec") or {}).get("ports") or []:
        if port in (entry.get("port"), entry.get("name")):
            return True
    return False


@rule(
    "refs.hpa-target",
    "medium",
    "HorizontalPodAutoscalers scale something that exists",
    """An autoscaler whose target does not exist scales nothing and reports
    FailedGetScale. Fix spec.scaleTargetRef, or delete the autoscaler with its workload.""",
)
def hpa_target(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in reach.judged(objects):
        if key.kind != "HorizontalPodAutoscaler":
            continue
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        target = ObjectKey(group, str(ref.get("kind", "")), key.namespace, str(ref.get("name", "")))
        if target.name and reach.holds(target) and target not in objects:
            yield _missing(
                key, _api_version(obj), "refs.hpa-target", target, "/spec/scaleTargetRef"
            )


@rule(
    "refs.role",
    "high",
    "Role bindings grant roles that exist",
    """A binding to a Role or ClusterRole that does not exist grants nothing, and starts
    granting the moment someone creates a role of that name. Fix roleRef or create the
    role in Git.""",
)
def role_ref(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in reach.judged(objects):
        if key.group != RBAC or key.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        ref = obj.get("roleRef") or {}
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind == "ClusterRole" and (name in BUILT_IN_CLUSTER_ROLES or name.startswith("system:")):
            continue
        target = ObjectKey(RBAC, kind, key.namespace if kind == "Role" else "", name)
        if name and reach.holds(target) and target not in objects:
            yield _missing(key, _api_version(obj), "refs.role", target, "/roleRef")


@rule(
    "refs.subject",
    "low",
    "Role bindings grant existing ServiceAccounts",
    """A binding naming a ServiceAccount that does not exist grants nothing today and
    grants a future account of that name. Remove the subject or create the account.""",
)
def subject(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in reach.judged(objects):
        if key.group != RBAC or key.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        for index, entry in enumerate(obj.get("subjects") or []):
            if (entry or {}).get("kind") != "ServiceAccount" or entry.get("name") == "default":
                continue
            namespace = str(entry.get("namespace") or key.namespace)
            target = ObjectKey("", "ServiceAccount", namespace, str(entry.get("name", "")))
            if target.name and reach.holds(target) and target not in objects:
                yield _missing(key, _api_version(obj), "refs.subject", target, f"/subjects/{index}")


@rule(
    "refs.selects-nothing",
    "low",
    "Disruption budgets and network policies select pods",
    """A PodDisruptionBudget or NetworkPolicy whose selector matches no pod template
    protects nothing: usually a label renamed on one side only. Fix the selector.""",
)
def selects_nothing(objects: Objects, reach: Reach) -> Iterator[Violation]:
    if not _workloads_known(reach):
        return
    labels = _labels_by_namespace(objects)
    for key, obj in reach.judged(objects):
        spec = obj.get("spec") or {}
        if key.kind == "PodDisruptionBudget":
            selector, pointer = spec.get("selector"), "/spec/selector"
        elif key.kind == "NetworkPolicy":
            selector, pointer = spec.get("podSelector"), "/spec/podSelector"
        else:
            continue
        if not selector:  # {} selects every pod of the namespace
            continue
        if not any(pods.selects(selector, found) for found in labels.get(key.namespace, [])):
            yield Violation(
                "refs.selects-nothing",
                key,
                _api_version(obj),
                f"{key} selects no pod in {_in(key)}",
                (Evidence(key, pointer, "selects nothing"),),
            )
