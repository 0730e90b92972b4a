"""The apply form against the API server itself: manifests as people write them (and as
`kubectl apply` takes them) are refused by server-side apply as written, and accepted in
the form drift.engine.apply_form makes, with the same meaning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drift import kube
from drift.engine.apply_form import ApplySchema, apply_form
from drift.services import schemas

pytestmark = pytest.mark.kube

CASES = {
    "quantities as numbers": (
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              volumes: [{name: tmp, emptyDir: {sizeLimit: 1}}]
              containers:
              - name: log-shipper
                image: shop/shipper:2.0
                resources:
                  requests: {cpu: 0.1, memory: 64Mi}
                  limits: {cpu: 1, memory: 1.5e+9}
        """,
        "expected string",
        lambda obj: obj["spec"]["template"]["spec"]["containers"][0]["resources"],
        {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "1500M"}},
    ),
    "Service ports without protocol": (
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 8080}, {name: grpc, port: 9999}]
        """,
        'omits key field "protocol"',
        lambda obj: [(p["name"], p["port"], p["protocol"]) for p in obj["spec"]["ports"]],
        [("http", 80, "TCP"), ("grpc", 9999, "TCP")],
    ),
    "quota and limit values as numbers": (
        """
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: team}
        spec: {hard: {cpu: 10, pods: 20, requests.memory: 8Gi}}
        """,
        "expected string",
        lambda obj: obj["spec"]["hard"],
        {"cpu": "10", "pods": "20", "requests.memory": "8Gi"},
    ),
    "an autoscaler's average value as a number": (
        """
        apiVersion: autoscaling/v2beta2
        kind: HorizontalPodAutoscaler
        metadata: {name: web}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
          maxReplicas: 3
          metrics:
          - type: Pods
            pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 100}}
        """,
        "expected string",
        lambda obj: obj["spec"]["metrics"][0]["pods"]["target"]["averageValue"],
        "100",
    ),
}


@pytest.fixture(scope="module")
def admin(devcluster) -> kube.Kube:
    return kube.Kube(Path(devcluster.kubeconfig("admin")).read_text())


@pytest.fixture(scope="module")
def schema(admin) -> ApplySchema:
    schemas.forget()
    found = schemas.apply_schema(admin)
    assert found is not None and len(found) > 100
    return found


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_server_refuses_the_manifest_as_written_and_takes_its_apply_form(
    admin, schema, kube_namespace, case
):
    text, refusal, read, stored = CASES[case]
    manifest = yaml.safe_load(text)
    manifest["metadata"]["namespace"] = kube_namespace
    resource = admin.discover().find(manifest["apiVersion"], manifest["kind"])

    with pytest.raises(kube.Refused, match=refusal):  # refused at once, never retried
        admin.apply(resource, manifest, "driftcontrol", force=True, dry_run=True)
    applied = admin.apply(resource, apply_form(manifest, schema), "driftcontrol", force=True)

    assert read(applied) == stored
    assert read(admin.get(resource, kube_namespace, manifest["metadata"]["name"])) == stored
