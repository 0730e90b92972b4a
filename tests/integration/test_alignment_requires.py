"""What a lane requires, on the local API server: a scan whose policy reads only the
shop's workloads still reads the guardrails the lane requires (Namespaces, NetworkPolicies,
quotas, RBAC, Kyverno and Gatekeeper objects), reports each one missing or wrong, and
resolves each once it is in place. Kyverno's and Gatekeeper's CRDs are installed from the
projects' own published files (tests/integration/manifests/crds, see their notes); their
controllers are not run, so the test writes the status they would report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from drift.models import FindingStatus, Lane
from tests.integration.conftest import apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]
CRDS = Path(__file__).resolve().parent / "manifests" / "crds"
RBAC = "rbac.authorization.k8s.io"

# Reading policies is part of reading a cluster's guardrails: what an operator grants the
# scanner when Kyverno or Gatekeeper is installed (scripts/devcluster's scanner role
# lists the built-in kinds only).
SCANNER_READS_POLICIES = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: driftcontrol-scanner-policies}
rules:
- apiGroups: [kyverno.io, constraints.gatekeeper.sh]
  resources: ["*"]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: driftcontrol-scanner-policies}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole,
          name: driftcontrol-scanner-policies}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "driftcontrol:scanners"}
"""
# Kyverno's sample policy "require-labels", in Kyverno 1.6's schema.
KYVERNO = """
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: {name}}}
spec:
  validationFailureAction: audit
  background: true
  rules:
  - name: check-for-labels
    match:
      resources:
        kinds: [Pod]
        namespaces: [{ns}]
    validate:
      message: "label 'app.kubernetes.io/name' is required"
      pattern:
        metadata:
          labels:
            app.kubernetes.io/name: "?*"
"""
# The gatekeeper-library's k8srequiredlabels example, in dry run.
CONSTRAINT = """
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {{name: {name}}}
spec:
  enforcementAction: dryrun
  match:
    kinds:
    - apiGroups: [""]
      kinds: [Namespace]
  parameters:
    labels: [owner]
"""
WILD_ROLE = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: web-deployer, namespace: {ns}}}
rules:
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: [""]
  resources: ["*"]
  verbs: ["*"]
"""
ADMIN_BINDINGS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: deployer-admin, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
- {{kind: ServiceAccount, name: deployer, namespace: {ns}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {{name: {bot}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {bot}}}
"""
GUARDRAILS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: default-deny-ingress, namespace: {ns}}}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: ResourceQuota
metadata: {{name: compute-resources, namespace: {ns}}}
spec:
  hard: {{requests.cpu: "4", requests.memory: 8Gi, limits.cpu: "8", limits.memory: 16Gi}}
---
apiVersion: v1
kind: LimitRange
metadata: {{name: cpu-mem-defaults, namespace: {ns}}}
spec:
  limits:
  - type: Container
    default: {{cpu: 500m, memory: 512Mi}}
    defaultRequest: {{cpu: 100m, memory: 128Mi}}
"""


def apply(devcluster: Any, text: str) -> None:
    devcluster.kubectl("apply", "-f", _file(text))


def _file(text: str) -> str:
    path = Path(f"/tmp/requires-{hashlib.sha1(text.encode()).hexdigest()[:12]}.yaml")
    path.write_text(text)
    return str(path)


def write_status(devcluster: Any, group: str, plural: str, name: str, status: Any) -> None:
    """What Kyverno or Gatekeeper would report (their controllers do not run here)."""
    from kubernetes import client

    with devcluster.client() as api:
        client.CustomObjectsApi(api).patch_cluster_custom_object_status(
            group, "v1" if group == "kyverno.io" else "v1beta1", plural, name, {"status": status}
        )


@pytest.fixture
def guarded(devcluster, kube_namespace, scanner_cluster):  # type: ignore[no-untyped-def]
    """The controlled lane owns the test's namespace and requires every guardrail; its
    cluster-wide objects (policy, constraint, binding) are named after the namespace."""
    for crd in sorted(CRDS.glob("*.yaml")):
        devcluster.kubectl("apply", "-f", str(crd))
    for crd in ("clusterpolicies.kyverno.io", "k8srequiredlabels.constraints.gatekeeper.sh"):
        devcluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    devcluster.kubectl("apply", "-f", _file(SCANNER_READS_POLICIES))
    suffix = hashlib.sha1(kube_namespace.encode()).hexdigest()[:8]
    names = {"ns": kube_namespace, "bot": f"release-bot-{suffix}"}
    names |= {"policy": f"require-labels-{suffix}", "constraint": f"ns-must-have-owner-{suffix}"}
    lane = Lane.objects.create(
        name="controlled",
        namespaces=[kube_namespace],
        identities=[f"system:serviceaccount:{kube_namespace}:deployer", names["bot"]],
        requires={
            "podSecurity": "baseline",
            "defaultDenyNetworkPolicy": True,
            "resourceQuota": True,
            "limitRange": True,
            "kyvernoPolicies": [names["policy"]],
            "gatekeeperConstraints": [f"K8sRequiredLabels/{names['constraint']}"],
            "noWildcardRoles": True,
            "noClusterAdmin": True,
        },
    )
    lane.full_clean()
    scanner_cluster.lanes.add(lane)
    yield names
    for kind, name in (
        ("clusterpolicy.kyverno.io", names["policy"]),
        ("k8srequiredlabels.constraints.gatekeeper.sh", names["constraint"]),
        ("clusterrolebinding", names["bot"]),
    ):
        devcluster.kubectl("delete", kind, name, "--ignore-not-found", check=False)


def policy_findings(policy: Any) -> dict[tuple[str, str, str], Any]:
    return {(f.rule, f.kind, f.name): f for f in policy.findings.open() if f.rule[:7] == "policy."}


def break_every_guardrail(devcluster: Any, names: dict[str, str]) -> None:
    # The shop's corpus brings a default deny of its own (microservices-demo's deny-all).
    devcluster.kubectl("delete", "networkpolicy", "-n", names["ns"], "deny-all")
    apply(devcluster, KYVERNO.format(name=names["policy"], ns=names["ns"]))
    write_status(devcluster, "kyverno.io", "clusterpolicies", names["policy"], {"ready": False})
    apply(devcluster, CONSTRAINT.format(name=names["constraint"]))
    apply(devcluster, WILD_ROLE.format(**names))
    apply(devcluster, ADMIN_BINDINGS.format(**names))


def put_every_guardrail_in_place(devcluster: Any, names: dict[str, str]) -> None:
    ns = names["ns"]
    devcluster.kubectl(
        "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted", "--overwrite"
    )
    apply(devcluster, GUARDRAILS.format(ns=ns))
    patch = json.dumps({"spec": {"validationFailureAction": "enforce"}})
    devcluster.kubectl(
        "patch", "clusterpolicy.kyverno.io", names["policy"], "--type=merge", "-p", patch
    )
    write_status(devcluster, "kyverno.io", "clusterpolicies", names["policy"], {"ready": True})
    kind = "k8srequiredlabels.constraints.gatekeeper.sh"
    devcluster.kubectl("patch", kind, names["constraint"], "--type=json", "-p",
                       '[{"op": "remove", "path": "/spec/enforcementAction"}]')  # fmt: skip
    by_pod = [{"id": "gatekeeper-controller-manager-0", "enforced": True, "observedGeneration": 1}]
    write_status(devcluster, "constraints.gatekeeper.sh", "k8srequiredlabels",
                 names["constraint"], {"byPod": by_pod})  # fmt: skip
    named = WILD_ROLE.format(**names).replace('resources: ["*"]', "resources: [configmaps]")
    apply(devcluster, named.replace('verbs: ["*"]', "verbs: [get, list]"))
    devcluster.kubectl("delete", "rolebinding", "-n", ns, "deployer-admin")
    devcluster.kubectl("delete", "clusterrolebinding", names["bot"])


def test_each_guardrail_a_lane_requires_is_reported_until_it_is_in_place(
    devcluster, shop_repo, shop_policy, scanner_cluster, guarded
):
    ns, names = guarded["ns"], guarded
    apply_shop(devcluster, shop_repo, ns)
    break_every_guardrail(devcluster, names)

    scan(shop_policy, scanner_cluster)

    found = policy_findings(shop_policy)
    assert set(found) == {
        ("policy.pod-security", "Namespace", ns),
        ("policy.default-deny", "Namespace", ns),
        ("policy.resource-quota", "Namespace", ns),
        ("policy.limit-range", "Namespace", ns),
        ("policy.admission", "Namespace", ns),
        ("policy.wildcard-role", "Role", "web-deployer"),
        ("policy.cluster-admin", "RoleBinding", "deployer-admin"),
        ("policy.cluster-admin", "ClusterRoleBinding", names["bot"]),
    }
    admission = found["policy.admission", "Namespace", ns].diff["message"]
    assert admission == (
        f"namespace {ns} is not guarded: {names['policy']} is in audit mode; "
        f"K8sRequiredLabels/{names['constraint']} is in dryrun mode"
    )
    admin = found["policy.cluster-admin", "ClusterRoleBinding", names["bot"]]
    assert (admin.severity, admin.diff["paths"]) == ("critical", ["/roleRef/name"])
    assert found["policy.pod-security", "Namespace", ns].diff["message"] == (
        f"namespace {ns} has no pod-security.kubernetes.io/enforce label; "
        "its lanes require baseline"
    )

    put_every_guardrail_in_place(devcluster, names)
    scan(shop_policy, scanner_cluster)

    assert policy_findings(shop_policy) == {}
    resolved = {f.rule for f in shop_policy.findings.filter(status=FindingStatus.RESOLVED)}
    assert {r for r in resolved if r.startswith("policy.")} == {
        "policy.pod-security",
        "policy.default-deny",
        "policy.resource-quota",
        "policy.limit-range",
        "policy.admission",
        "policy.wildcard-role",
        "policy.cluster-admin",
    }


def test_a_policy_that_is_not_ready_or_not_there_is_named(
    devcluster, shop_repo, shop_policy, scanner_cluster, guarded
):
    ns, names = guarded["ns"], guarded
    apply_shop(devcluster, shop_repo, ns)
    put_every_guardrail_in_place_but_the_policies(devcluster, names)
    apply(devcluster, KYVERNO.format(name=names["policy"], ns=ns).replace("audit", "enforce"))

    scan(shop_policy, scanner_cluster)

    (admission,) = policy_findings(shop_policy).values()
    assert admission.diff["message"] == (
        f"namespace {ns} is not guarded: {names['policy']} is not ready; "
        f"K8sRequiredLabels/{names['constraint']} is missing (Gatekeeper K8sRequiredLabels)"
    )


def put_every_guardrail_in_place_but_the_policies(devcluster: Any, names: dict[str, str]) -> None:
    devcluster.kubectl(
        "label", "namespace", names["ns"], "pod-security.kubernetes.io/enforce=baseline"
    )
    apply(devcluster, GUARDRAILS.format(ns=names["ns"]))


def test_a_lane_requiring_nothing_reads_nothing_more(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace
):
    lane = Lane.objects.create(name="fast", namespaces=[kube_namespace])
    scanner_cluster.lanes.add(lane)
    apply_shop(devcluster, shop_repo, kube_namespace)
    apply(devcluster, WILD_ROLE.format(ns=kube_namespace))

    ran = scan(shop_policy, scanner_cluster)

    assert policy_findings(shop_policy) == {}
    assert ran.objects_live > 0
