"""References that resolve (alignment.rules.references): pure rules, on manifests as users
write them, and on the real-world corpus, which must give no false positive."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alignment import rules
from drift.engine.normalize import ObjectKey, key_of

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      serviceAccountName: web
      imagePullSecrets: [{name: registry}]
      containers:
      - name: web
        image: registry.example.com/shop/web:1.4.2
        env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
        - name: FEATURE
          valueFrom: {configMapKeyRef: {name: flags, key: feature, optional: true}}
        envFrom:
        - configMapRef: {name: settings}
        resources: {requests: {cpu: 0.1, memory: 64Mi}}
      volumes:
      - name: data
        persistentVolumeClaim: {claimName: web-data}
      - name: certs
        projected:
          sources:
          - secret: {name: tls}
"""
NEEDS = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Secret
metadata: {name: registry, namespace: shop}
type: kubernetes.io/dockerconfigjson
---
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
---
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: web-data, namespace: shop}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def objects(*texts: str) -> dict[ObjectKey, dict]:  # type: ignore[type-arg]
    found = {}
    for text in texts:
        for obj in yaml.safe_load_all(text):
            if obj:  # an empty document between two ---
                found[key_of(obj)] = obj
    return found


def corpus(name: str) -> dict[ObjectKey, dict]:  # type: ignore[type-arg]
    return objects(*(p.read_text() for p in sorted((CORPUS / name).rglob("*.yaml"))))


def found(objs: dict, known: rules.Known = rules.everything) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(v.rule, str(v.key), v.evidence[0].path) for v in rules.evaluate(objs, known)]


@pytest.mark.parametrize("name", ["microservices-demo", "podinfo"])
def test_the_real_world_corpus_gives_no_false_positive(name: str) -> None:
    assert len(corpus(name)) > 2
    assert found(corpus(name)) == []


def test_a_workload_with_everything_it_names_is_clean() -> None:
    assert found(objects(WEB, NEEDS)) == []


def test_each_missing_reference_is_named_with_its_field() -> None:
    violations = found(objects(WEB))

    base = "/spec/template/spec"
    web = "Deployment.apps shop/web"
    assert violations == [
        ("refs.claim", web, f"{base}/volumes/0/persistentVolumeClaim/claimName"),
        ("refs.configmap", web, f"{base}/containers/0/envFrom/0/configMapRef/name"),
        ("refs.secret", web, f"{base}/containers/0/env/0/valueFrom/secretKeyRef/name"),
        ("refs.secret", web, f"{base}/imagePullSecrets/0/name"),
        ("refs.secret", web, f"{base}/volumes/1/projected/sources/0/secret/name"),
        ("refs.service-account", web, f"{base}/serviceAccountName"),
    ]  # the optional ConfigMap "flags" is not among them


def test_the_message_and_evidence_name_both_sides() -> None:
    violation = next(v for v in rules.evaluate(objects(WEB)) if v.rule == "refs.configmap")

    assert violation.message == (
        "Deployment.apps shop/web names ConfigMap settings, which does not exist in namespace shop"
    )
    assert violation.severity == "high"
    assert [e.as_dict()["note"] for e in violation.evidence] == ["names it", "missing"]
    assert "optional: true" in rules.RULES["refs.configmap"].runbook


def test_a_kind_the_evaluation_did_not_read_is_left_alone() -> None:
    only_workloads = objects(WEB)

    assert found(only_workloads, lambda group, kind: kind not in {"Secret", "ConfigMap"}) == [
        (
            "refs.claim",
            "Deployment.apps shop/web",
            "/spec/template/spec/volumes/0/persistentVolumeClaim/claimName",
        ),
        (
            "refs.service-account",
            "Deployment.apps shop/web",
            "/spec/template/spec/serviceAccountName",
        ),
    ]


SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def test_a_service_must_select_a_workload() -> None:
    assert found(objects(WEB, NEEDS, SERVICE)) == []
    typo = SERVICE.replace("{app: web}", "{app: wbe}")
    assert found(objects(WEB, NEEDS, typo)) == [
        ("refs.service-selector", "Service shop/web", "/spec/selector")
    ]
    external = "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: shop}\n"
    external += "spec: {type: ExternalName, externalName: db.example.com}"
    assert found(objects(WEB, NEEDS, SERVICE, external)) == []


INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  rules:
  - host: shop.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {name: http}}}
      - path: /api
        pathType: Prefix
        backend: {service: {name: api, port: {number: 80}}}
      - path: /static
        pathType: Prefix
        backend: {service: {name: web, port: {number: 8443}}}
"""


def test_ingress_backends_need_their_service_and_port() -> None:
    assert found(objects(WEB, NEEDS, SERVICE, INGRESS)) == [
        (
            "refs.ingress-backend",
            "Ingress.networking.k8s.io shop/web",
            "/spec/rules/0/http/paths/1/backend/service",
        ),
        (
            "refs.ingress-backend",
            "Ingress.networking.k8s.io shop/web",
            "/spec/rules/0/http/paths/2/backend/service",
        ),
    ]
    legacy = """
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: old, namespace: shop}
spec: {backend: {serviceName: web, servicePort: 80}}
"""
    assert found(objects(WEB, NEEDS, SERVICE, legacy)) == []


def test_an_autoscaler_needs_its_target() -> None:
    hpa = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 5
"""
    assert found(objects(WEB, NEEDS, hpa)) == []
    assert found(objects(NEEDS, hpa)) == [
        ("refs.hpa-target", "HorizontalPodAutoscaler.autoscaling shop/web", "/spec/scaleTargetRef")
    ]


BINDING = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: ServiceAccount, name: web}
- {kind: ServiceAccount, name: ci, namespace: tools}
- {kind: User, name: alice}
"""


def test_bindings_need_their_role_and_service_accounts() -> None:
    role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n"
    role += "metadata: {name: deployer, namespace: shop}\nrules: []"
    binding = "RoleBinding.rbac.authorization.k8s.io shop/deployers"
    # Nothing of namespace tools is known here: its subject is left alone.
    assert found(objects(NEEDS, BINDING)) == [("refs.role", binding, "/roleRef")]
    tools = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder, namespace: tools}"
    assert found(objects(NEEDS, BINDING, tools)) == [
        ("refs.role", binding, "/roleRef"),
        ("refs.subject", binding, "/subjects/1"),
    ]
    assert found(objects(NEEDS, BINDING, role, tools)) == [("refs.subject", binding, "/subjects/1")]
    to_view = BINDING.replace("kind: Role, name: deployer", "kind: ClusterRole, name: view")
    assert [rule for rule, _, _ in found(objects(NEEDS, to_view, tools))] == ["refs.subject"]


def test_budgets_and_network_policies_that_select_no_pod_are_low() -> None:
    pdb = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front, back]}]
"""
    deny = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
"""
    assert found(objects(WEB, NEEDS, pdb, deny)) == []
    stale = pdb.replace("values: [front, back]", "values: [back]")
    violations = rules.evaluate(objects(WEB, NEEDS, stale, deny))
    assert [(v.rule, v.severity, str(v.key)) for v in violations] == [
        ("refs.selects-nothing", "low", "PodDisruptionBudget.policy shop/web")
    ]
