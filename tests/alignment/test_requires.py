"""What a lane requires (alignment.rules.requires): one violating and one clean case per
rule, on manifests as users write them and objects as an API server returns them."""

from __future__ import annotations

from typing import Any

from alignment import rules
from alignment.rules.requires import constraint_problem, kyverno_problem
from tests.alignment.test_references import objects

REQUIRES: dict[str, Any] = {
    "podSecurity": "baseline",
    "defaultDenyNetworkPolicy": True,
    "resourceQuota": True,
    "limitRange": True,
    "kyvernoPolicies": ["require-labels"],
    "gatekeeperConstraints": ["K8sRequiredLabels/ns-must-have-owner"],
    "noWildcardRoles": True,
    "noClusterAdmin": True,
}
CONTROLLED = rules.LaneSpec(
    "controlled",
    namespaces=("shop",),
    identities=("system:serviceaccount:gitops:deployer", "release-bot"),
    requires=REQUIRES,
)
FAST = rules.LaneSpec("fast", namespaces=("dev-*",), identities=("dana",))

NAMESPACE = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    kubernetes.io/metadata.name: shop
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
"""
DENY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""
QUOTA = """
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute-resources, namespace: shop}
spec:
  hard: {requests.cpu: "4", requests.memory: 8Gi, limits.cpu: "8", limits.memory: 16Gi}
"""
LIMITS = """
apiVersion: v1
kind: LimitRange
metadata: {name: cpu-mem-defaults, namespace: shop}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 128Mi}
"""
KYVERNO = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-labels}
spec:
  validationFailureAction: Enforce
  background: true
  rules:
  - name: check-for-labels
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: "label 'app.kubernetes.io/name' is required"
      pattern: {metadata: {labels: {app.kubernetes.io/name: "?*"}}}
status:
  ready: true
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, message: Ready,
     lastTransitionTime: "2024-05-02T09:12:41Z"}
"""
CONSTRAINT = """
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: ns-must-have-owner}
spec:
  match:
    kinds: [{apiGroups: [""], kinds: [Namespace]}]
  parameters: {labels: [owner]}
status:
  byPod:
  - {id: gatekeeper-audit-7c9b8d6c4-x2x5v, enforced: true, observedGeneration: 1}
  - {id: gatekeeper-controller-manager-5b96bd668-8vx8x, enforced: true, observedGeneration: 1}
"""
ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: web-deployer, namespace: shop}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: [configmaps, services]
  verbs: [get, list, create, update, patch]
"""
BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web-deployer, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-deployer}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: gitops}
"""
CLUSTER_ADMIN = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: release-bot-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: release-bot}
"""
GUARDED = (NAMESPACE, DENY, QUOTA, LIMITS, KYVERNO, CONSTRAINT, ROLE, BINDING)


def found(*texts: str, lanes=(CONTROLLED, FAST), known=rules.everything) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    violations = rules.evaluate(objects(*texts), known, lanes)
    return [(v.rule, str(v.key), v.message) for v in violations if v.rule.startswith("policy.")]


def without(text: str) -> tuple[str, ...]:
    return tuple(t for t in GUARDED if t is not text)


def test_a_namespace_with_every_guardrail_holds() -> None:
    assert found(*GUARDED) == []


def test_a_lane_requiring_nothing_is_never_judged() -> None:
    lax = rules.LaneSpec("controlled", namespaces=("shop",))
    assert found(NAMESPACE.replace("restricted", "privileged"), ROLE, lanes=(lax,)) == []


def test_a_namespace_below_the_pod_security_level_is_reported_on_the_namespace() -> None:
    privileged = NAMESPACE.replace("enforce: restricted", "enforce: privileged")
    unlabelled = NAMESPACE.replace("pod-security.kubernetes.io/enforce: restricted", "x: y")

    assert found(privileged, *GUARDED[1:]) == [
        (
            "policy.pod-security",
            "Namespace shop",
            "namespace shop enforces privileged; its lanes require baseline",
        )
    ]
    violation = rules.evaluate(objects(unlabelled, *GUARDED[1:]), lanes=(CONTROLLED,))[0]
    assert (violation.rule, violation.severity, violation.evidence[0].path) == (
        "policy.pod-security",
        "high",
        "/metadata/labels/pod-security.kubernetes.io~1enforce",
    )
    assert "has no pod-security.kubernetes.io/enforce label" in violation.message


def test_a_namespace_without_a_default_deny_is_reported_when_network_policies_were_read() -> None:
    allow_web = DENY.replace("podSelector: {}", "podSelector: {matchLabels: {app: web}}")

    assert found(*without(DENY)) == [
        (
            "policy.default-deny",
            "Namespace shop",
            "namespace shop has no default-deny NetworkPolicy",
        )
    ]
    assert [f[2] for f in found(allow_web, *without(DENY))] == [
        "namespace shop has no default-deny NetworkPolicy (1 other NetworkPolicies)"
    ]
    # NetworkPolicies not read: neither present nor missing.
    unread = lambda group, kind: kind != "NetworkPolicy"  # noqa: E731
    assert found(*without(DENY), known=unread) == []


def test_a_missing_resource_quota_or_limit_range_is_reported() -> None:
    assert [f[:2] for f in found(*without(QUOTA))] == [("policy.resource-quota", "Namespace shop")]
    assert [f[2] for f in found(*without(LIMITS))] == ["namespace shop has no LimitRange"]
    assert rules.RULES["policy.resource-quota"].severity == "medium"


def test_named_admission_policies_must_exist_enforce_and_be_ready() -> None:
    audit = KYVERNO.replace("validationFailureAction: Enforce", "validationFailureAction: Audit")
    dryrun = CONSTRAINT.replace("  match:", "  enforcementAction: dryrun\n  match:", 1)

    assert found(*without(KYVERNO)) == [
        (
            "policy.admission",
            "Namespace shop",
            "namespace shop is not guarded: require-labels is missing (Kyverno ClusterPolicy)",
        )
    ]
    assert [f[2] for f in found(audit, dryrun, *without(KYVERNO)[:4], ROLE)] == [
        "namespace shop is not guarded: require-labels is in Audit mode; "
        "K8sRequiredLabels/ns-must-have-owner is in dryrun mode"
    ]


def test_kyverno_readiness_and_modes_across_its_versions() -> None:
    policy = objects(KYVERNO)
    (enforcing,) = policy.values()
    assert kyverno_problem(enforcing, "shop") == ""
    old = {**enforcing, "spec": {**enforcing["spec"], "validationFailureAction": "enforce"}}
    assert kyverno_problem({**old, "status": {"ready": False}}, "shop") == "is not ready"
    failed = {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed"}]}
    assert kyverno_problem({**old, "status": failed}, "shop") == "is not ready (Failed)"
    overridden = {
        **old["spec"],
        "validationFailureActionOverrides": [{"action": "audit", "namespaces": ["shop"]}],
    }
    assert kyverno_problem({**old, "spec": overridden}, "shop") == "is in audit mode"
    assert kyverno_problem({**old, "spec": overridden}, "payments") == ""
    # Kyverno 1.13 moved the action into each rule.
    rule = {**old["spec"]["rules"][0], "validate": {"failureAction": "Audit"}}
    per_rule = {"rules": [rule], "validationFailureAction": "Enforce"}
    assert kyverno_problem({**old, "spec": per_rule}, "shop") == "is in Audit mode"


def test_a_gatekeeper_constraint_not_enforced_by_every_pod_is_not_ready() -> None:
    (constraint,) = objects(CONSTRAINT).values()
    assert constraint_problem(constraint) == ""
    pods = [{"id": "gatekeeper-audit", "enforced": True}, {"id": "gatekeeper-cm"}]
    assert constraint_problem({**constraint, "status": {"byPod": pods}}) == (
        "is not enforced by every Gatekeeper pod"
    )
    assert constraint_problem({**constraint, "status": {}}) != ""


def test_a_wildcard_in_a_lanes_role_is_reported_on_the_role() -> None:
    wild = ROLE.replace("verbs: [get, list, create, update, patch]", 'verbs: ["*"]')
    other_lane = wild.replace("namespace: shop", "namespace: dev-anna")

    violations = rules.evaluate(objects(wild, *without(ROLE)), lanes=(CONTROLLED,))
    assert [(v.rule, str(v.key), v.message, v.evidence[0].path) for v in violations] == [
        (
            "policy.wildcard-role",
            "Role.rbac.authorization.k8s.io shop/web-deployer",
            "Role.rbac.authorization.k8s.io shop/web-deployer grants * verbs",
            "/rules/1/verbs",
        )
    ]
    assert found(other_lane, *without(ROLE)) == []  # the fast lane does not require it


def test_cluster_admin_bound_to_a_lanes_deployer_is_reported_on_the_binding() -> None:
    someone_else = CLUSTER_ADMIN.replace("name: release-bot}", "name: ops-oncall}")
    namespaced = BINDING.replace(
        "{apiGroup: rbac.authorization.k8s.io, kind: Role, name: web-deployer}",
        "{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}",
    )

    assert found(CLUSTER_ADMIN, *GUARDED) == [
        (
            "policy.cluster-admin",
            "ClusterRoleBinding.rbac.authorization.k8s.io release-bot-admin",
            "ClusterRoleBinding.rbac.authorization.k8s.io release-bot-admin binds cluster-admin "
            "to release-bot, a deployer of lane controlled",
        )
    ]
    assert found(someone_else, *GUARDED) == []
    assert [f[2] for f in found(namespaced, *without(BINDING))] == [
        "RoleBinding.rbac.authorization.k8s.io shop/web-deployer binds cluster-admin to "
        "system:serviceaccount:gitops:deployer, a deployer of lane controlled"
    ]
    assert rules.RULES["policy.cluster-admin"].severity == "critical"


def test_two_lanes_on_one_namespace_require_the_strictest_of_both() -> None:
    strict = rules.LaneSpec("audited", namespaces=("shop",), requires={"podSecurity": "restricted"})
    baseline = NAMESPACE.replace("enforce: restricted", "enforce: baseline")

    assert [f[2] for f in found(baseline, *GUARDED[1:], lanes=(CONTROLLED, strict))] == [
        "namespace shop enforces baseline; its lanes require restricted"
    ]


def test_drift_check_lane_requires_guardrails_of_manifests_no_lane_claims() -> None:
    unclaimed = [t.replace("namespace: shop", "namespace: billing") for t in (QUOTA, LIMITS)]
    lane = rules.LaneSpec("controlled", requires={"resourceQuota": True, "limitRange": True})

    violations = rules.evaluate(objects(*unclaimed), rules.everything, (), lane)
    assert [v.rule for v in violations if v.rule.startswith("policy.")] == []
    violations = rules.evaluate(objects(unclaimed[0]), rules.everything, (), lane)
    assert [(v.rule, str(v.key)) for v in violations if v.rule.startswith("policy.")] == [
        ("policy.limit-range", "Namespace billing")
    ]
