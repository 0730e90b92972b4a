"""What a lane requires of its namespaces (the Lane's `requires`, drift.engine.requirements):
Pod Security labels, a default-deny NetworkPolicy, a ResourceQuota and a LimitRange, named
Kyverno policies and Gatekeeper constraints that enforce, Roles without wildcards, and no
cluster-admin for its deployers.

What is missing is reported on the lane namespace's Namespace; a wildcard on its Role; a
cluster-admin grant on its binding. A rule judges only kinds the evaluation read in full
(`Reach.kind`): a NetworkPolicy that was not read is never "missing".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from alignment.rules.base import Evidence, LaneSpec, Objects, Reach, Violation, rule
from drift.engine import requirements
from drift.engine.normalize import ObjectKey

RBAC = "rbac.authorization.k8s.io"
KYVERNO = "kyverno.io"
GATEKEEPER = "constraints.gatekeeper.sh"
NETWORKING = "networking.k8s.io"
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def namespace_key(name: str) -> ObjectKey:
    return ObjectKey("", "Namespace", "", name)


def _required(objects: Objects, reach: Reach) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each namespace of the evaluation some lane requires something of, with what its
    lanes require together (the Namespaces held, and the namespaces objects are in)."""
    held = {key.name for key in objects if key.group == "" and key.kind == "Namespace"}
    for name in sorted(held | (reach.namespaces - {""})):
        lanes = reach.lanes_of(name)
        required = requirements.combined([dict(lane.requires) for lane in lanes])
        if required:
            yield name, required


def _missing(
    rule_id: str, name: str, objects: Objects, what: str, evidence: tuple[Evidence, ...] = ()
) -> Violation:
    key = namespace_key(name)
    return Violation(
        rule_id,
        key,
        str((objects.get(key) or {}).get("apiVersion", "v1")),
        f"namespace {name} {what}",
        evidence or (Evidence(key, "", what),),
    )


@rule(
    "policy.pod-security",
    "high",
    "Namespaces enforce the lane's Pod Security level",
    """The lane requires Pod Security admission to enforce at least this level in its
    namespaces, and this namespace's `pod-security.kubernetes.io/enforce` label is missing
    (which admits anything) or lower. Label the Namespace, e.g. `kubectl label namespace
    NAME pod-security.kubernetes.io/enforce=restricted`, after checking its pods comply
    (`--dry-run=server` lists those that do not).""",
)
def pod_security(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for name, required in _required(objects, reach):
        level, key = required.get("podSecurity"), namespace_key(name)
        if not level or level == "privileged" or key not in objects:
            continue  # a Namespace not held (another file, another tool) cannot be judged
        labels = (objects[key].get("metadata") or {}).get("labels") or {}
        actual = labels.get(ENFORCE_LABEL)
        if requirements.level_at_least(str(actual), level):
            continue
        path = "/metadata/labels/pod-security.kubernetes.io~1enforce"
        shown = f"enforces {actual}" if actual else f"has no {ENFORCE_LABEL} label"
        yield _missing(
            "policy.pod-security",
            name,
            objects,
            f"{shown}; its lanes require {level}",
            (Evidence(key, path, f"{actual or 'missing'}, below {level}"),),
        )


def _in(objects: Objects, group: str, kind: str, namespace: str) -> list[ObjectKey]:
    return sorted(
        k for k in objects if k.group == group and k.kind == kind and k.namespace == namespace
    )


def denies_all_ingress(policy: Mapping[str, Any]) -> bool:
    """A NetworkPolicy that selects every pod and allows no ingress: a default deny."""
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    every_pod = not selector.get("matchLabels") and not selector.get("matchExpressions")
    # Without policyTypes a NetworkPolicy always governs ingress.
    types = spec.get("policyTypes") or ["Ingress"]
    return every_pod and "Ingress" in types and not spec.get("ingress")


@rule(
    "policy.default-deny",
    "high",
    "Namespaces deny ingress by default",
    """The lane requires a default-deny NetworkPolicy in each namespace, so that only the
    traffic other NetworkPolicies allow reaches its pods, and this namespace has none.
    Add one: `podSelector: {}`, `policyTypes: [Ingress]` and no `ingress` rules; then
    allow what each workload needs in policies of their own.""",
)
def default_deny(objects: Objects, reach: Reach) -> Iterator[Violation]:
    if not reach.kind(NETWORKING, "NetworkPolicy"):
        return
    for name, required in _required(objects, reach):
        if not required.get("defaultDenyNetworkPolicy"):
            continue
        policies = _in(objects, NETWORKING, "NetworkPolicy", name)
        if not any(denies_all_ingress(objects[key]) for key in policies):
            others = f" ({len(policies)} other NetworkPolicies)" if policies else ""
            what = f"has no default-deny NetworkPolicy{others}"
            yield _missing("policy.default-deny", name, objects, what)


def _present(rule_id: str, kind: str, flag: str, why: str) -> None:
    def check(objects: Objects, reach: Reach) -> Iterator[Violation]:
        if not reach.kind("", kind):
            return
        for name, required in _required(objects, reach):
            if required.get(flag) and not _in(objects, "", kind, name):
                yield _missing(rule_id, name, objects, f"has no {kind}")

    severity = "medium" if kind == "ResourceQuota" else "low"
    runbook = f"""The lane requires a {kind} in each of its namespaces, and this namespace
    has none: {why} Add one (`kubectl create -n NAMESPACE -f {kind.lower()}.yaml`), sized
    for what the namespace runs."""
    rule(rule_id, severity, f"Namespaces have a {kind}", runbook)(check)


_present(
    "policy.resource-quota",
    "ResourceQuota",
    "resourceQuota",
    "nothing bounds how much CPU, memory or how many objects its workloads can claim.",
)
_present(
    "policy.limit-range",
    "LimitRange",
    "limitRange",
    "containers without requests and limits get none, and can starve their neighbours.",
)


def _kyverno_target(name: str) -> ObjectKey:
    namespace, slash, policy = name.rpartition("/")
    if slash:
        return ObjectKey(KYVERNO, "Policy", namespace, policy)
    return ObjectKey(KYVERNO, "ClusterPolicy", "", name)


def _constraint_target(name: str) -> ObjectKey:
    kind, _, constraint = name.partition("/")
    return ObjectKey(GATEKEEPER, kind, "", constraint)


def kyverno_problem(policy: Mapping[str, Any], namespace: str) -> str:
    """Why a Kyverno policy does not enforce in ``namespace`` ("" when it does): its
    failure action (per rule since Kyverno 1.13; per namespace with overrides), then its
    readiness (`status.ready`, or the Ready condition of later versions)."""
    spec = policy.get("spec") or {}
    default = str(spec.get("validationFailureAction") or "Audit")
    for override in spec.get("validationFailureActionOverrides") or []:
        if any(fnmatchcase(namespace, glob) for glob in override.get("namespaces") or []):
            default = str(override.get("action") or default)
    actions = {
        str((r.get("validate") or {}).get("failureAction") or default)
        for r in spec.get("rules") or []
        if isinstance(r, Mapping) and "validate" in r
    } or {default}
    audits = sorted(a for a in actions if a.lower() != "enforce")
    if audits:
        return f"is in {audits[0]} mode"
    status = policy.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    ready = conditions.get("Ready")
    if ready is not None:
        return "" if ready.get("status") == "True" else f"is not ready ({ready.get('reason')})"
    return "" if status.get("ready") is True else "is not ready"


def constraint_problem(constraint: Mapping[str, Any]) -> str:
    """Why a Gatekeeper constraint does not enforce ("" when it does): its enforcement
    action (deny, the default), then whether every Gatekeeper pod reports it enforced."""
    action = (constraint.get("spec") or {}).get("enforcementAction") or "deny"
    if action != "deny":
        return f"is in {action} mode"
    pods = (constraint.get("status") or {}).get("byPod") or []
    if not pods or not all(isinstance(p, dict) and p.get("enforced") is True for p in pods):
        return "is not enforced by every Gatekeeper pod"
    return ""


def _admission_problems(
    objects: Objects, reach: Reach, namespace: str, required: dict[str, Any]
) -> Iterator[Evidence]:
    wanted = [
        (name, _kyverno_target(name), "Kyverno", kyverno_problem)
        for name in required.get("kyvernoPolicies", [])
    ] + [
        (name, _constraint_target(name), "Gatekeeper", lambda obj, _: constraint_problem(obj))
        for name in required.get("gatekeeperConstraints", [])
    ]
    for name, target, tool, problem in wanted:
        if not reach.kind(target.group, target.kind):
            continue  # not read (or not readable): neither present nor missing
        found = objects.get(target)
        why = f"is missing ({tool} {target.kind})" if found is None else problem(found, namespace)
        if why:
            yield Evidence(target, "" if found is None else "/spec", f"{name} {why}")


@rule(
    "policy.admission",
    "high",
    "The lane's admission policies exist, enforce and are ready",
    """The lane requires these Kyverno policies or Gatekeeper constraints to guard its
    namespaces, and one is missing, only audits (Kyverno `validationFailureAction: Audit`,
    Gatekeeper `enforcementAction: dryrun` or `warn`), or is not ready (Kyverno has not
    loaded it, or a Gatekeeper pod does not enforce it yet). Apply the policy from its
    source, set it to Enforce (Kyverno) or deny (Gatekeeper), and check the policy
    engine's pods are running.""",
)
def admission(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for name, required in _required(objects, reach):
        found = tuple(_admission_problems(objects, reach, name, required))
        if found:
            what = "; ".join(e.note for e in found)
            yield _missing("policy.admission", name, objects, f"is not guarded: {what}", found)


def _lanes_requiring(reach: Reach, namespace: str, flag: str) -> list[LaneSpec]:
    return [lane for lane in reach.lanes_of(namespace) if lane.requires.get(flag) is True]


@rule(
    "policy.wildcard-role",
    "high",
    "The lane's Roles grant no wildcard",
    """A Role in the lane's namespace grants `*` verbs or resources: whoever it is bound to
    can do anything there, including to resources added later (and `*` resources include
    subresources such as pods/exec). List the verbs and resources the subject needs.""",
)
def wildcard_role(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in objects.items():
        if (key.group, key.kind) != (RBAC, "Role") or not _lanes_requiring(
            reach, key.namespace, "noWildcardRoles"
        ):
            continue
        evidence = tuple(
            Evidence(key, f"/rules/{index}/{field}", f"{field}: *")
            for index, granted in enumerate(obj.get("rules") or [])
            for field in ("verbs", "resources")
            if "*" in ((granted or {}).get(field) or [])
        )
        if evidence:
            fields = ", ".join(sorted({e.path.rsplit("/", 1)[1] for e in evidence}))
            yield Violation(
                "policy.wildcard-role",
                key,
                str(obj.get("apiVersion", "")),
                f"{key} grants * {fields}",
                evidence,
            )


def _identity(subject: Mapping[str, Any], namespace: str) -> str:
    name = str(subject.get("name", ""))
    if subject.get("kind") == "ServiceAccount":
        return f"system:serviceaccount:{subject.get('namespace') or namespace}:{name}"
    return name


@rule(
    "policy.cluster-admin",
    "critical",
    "The lane's deployers are not cluster-admin",
    """A binding grants the `cluster-admin` ClusterRole to one of the lane's deployers: that
    identity can change anything, in every lane (and, through a ClusterRoleBinding, the
    cluster itself), so the lane's boundaries hold only by convention. Bind the deployer
    to a Role limited to the lane's namespaces and the kinds it deploys.""",
)
def cluster_admin(objects: Objects, reach: Reach) -> Iterator[Violation]:
    everywhere = [*reach.lanes, *([reach.default_lane] if reach.default_lane else [])]
    for key, obj in objects.items():
        ref = obj.get("roleRef") or {}
        if key.group != RBAC or key.kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if (ref.get("kind"), ref.get("name")) != ("ClusterRole", "cluster-admin"):
            continue
        lanes = (
            [lane for lane in everywhere if lane.requires.get("noClusterAdmin") is True]
            if key.kind == "ClusterRoleBinding"
            else _lanes_requiring(reach, key.namespace, "noClusterAdmin")
        )
        evidence = tuple(_deployers(key, obj, lanes))
        if evidence:
            who = ", ".join(e.note for e in evidence)
            yield Violation(
                "policy.cluster-admin",
                key,
                str(obj.get("apiVersion", "")),
                f"{key} binds cluster-admin to {who}",
                (Evidence(key, "/roleRef/name", "cluster-admin"), *evidence),
            )


def _deployers(
    key: ObjectKey, binding: Mapping[str, Any], lanes: list[LaneSpec]
) -> Iterator[Evidence]:
    for index, subject in enumerate(binding.get("subjects") or []):
        identity = _identity(subject or {}, key.namespace)
        lane = next((o for o in lanes if any(fnmatchcase(identity, g) for g in o.identities)), None)
        if lane is not None:
            yield Evidence(key, f"/subjects/{index}", f"{identity}, a deployer of lane {lane.name}")
