"""drift.engine.apply_form: manifests as users write them, in the form server-side apply
accepts. Each case is one the Kubernetes 1.20 API server refused when the manifest was
applied server-side as written (and accepted with `kubectl apply`); see
tests/integration/test_apply_form.py for the same cases against the server itself.

The schema is an excerpt of that server's own `/openapi/v2` (fixtures/README.md).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from drift.engine.apply_form import ApplySchema, apply_form, quantity_text

SCHEMA = ApplySchema(
    json.loads((Path(__file__).parent / "fixtures" / "openapi-v1.20.2-excerpt.json").read_text())
)


def manifest(text: str) -> dict:
    return yaml.safe_load(text)


DEPLOYMENT = manifest("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      volumes: [{name: tmp, emptyDir: {sizeLimit: 1}}]
      containers:
      - name: web
        image: shop/web:1.0
        env: [{name: PORT, value: "8080"}]
        ports: [{containerPort: 8080}, {containerPort: 53, protocol: UDP}]
        livenessProbe: {httpGet: {port: 8080, path: /healthz}}
        resources:
          requests: {cpu: 0.1, memory: 64Mi}
          limits: {cpu: 1, memory: 1.5e+9, nvidia.com/gpu: 1}
      - name: log-shipper
        image: shop/shipper:2.0
        resources: {requests: {cpu: 0.05}}
""")


def test_quantities_written_as_numbers_become_strings():
    form = apply_form(DEPLOYMENT, SCHEMA)

    web, shipper = form["spec"]["template"]["spec"]["containers"]
    assert web["resources"] == {
        "requests": {"cpu": "0.1", "memory": "64Mi"},
        "limits": {"cpu": "1", "memory": "1500000000", "nvidia.com/gpu": "1"},
    }
    assert shipper["resources"] == {"requests": {"cpu": "0.05"}}
    assert form["spec"]["template"]["spec"]["volumes"] == [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1"}}
    ]


def test_what_the_schema_takes_as_written_stays_as_written():
    form = apply_form(DEPLOYMENT, SCHEMA)

    assert form["spec"]["replicas"] == 2
    assert form["spec"]["strategy"] == {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    web = form["spec"]["template"]["spec"]["containers"][0]
    assert web["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/healthz"}}
    assert web["env"] == [{"name": "PORT", "value": "8080"}]
    assert form["metadata"] == DEPLOYMENT["metadata"]


def test_the_manifest_itself_is_left_as_its_author_wrote_it():
    before = copy.deepcopy(DEPLOYMENT)
    apply_form(DEPLOYMENT, SCHEMA)
    assert before == DEPLOYMENT


def test_a_keyed_list_item_gets_the_default_of_the_key_it_omits():
    service = manifest("""
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      selector: {app: web}
      ports:
      - {name: http, port: 80, targetPort: 8080}
      - {name: dns, port: 53, protocol: UDP, targetPort: dns}
    """)

    form = apply_form(service, SCHEMA)

    assert form["spec"]["ports"] == [
        {"protocol": "TCP", "name": "http", "port": 80, "targetPort": 8080},
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    containers = apply_form(DEPLOYMENT, SCHEMA)["spec"]["template"]["spec"]["containers"]
    assert containers[0]["ports"] == [
        {"protocol": "TCP", "containerPort": 8080},
        {"containerPort": 53, "protocol": "UDP"},
    ]


@pytest.mark.parametrize(
    ("text", "path", "expected"),
    [
        (
            """
            apiVersion: v1
            kind: LimitRange
            metadata: {name: limits}
            spec:
              limits:
              - {type: Container, default: {cpu: 0.5}, defaultRequest: {cpu: 0.1}, max: {cpu: 2}}
            """,
            ("spec", "limits", 0),
            {
                "type": "Container",
                "default": {"cpu": "0.5"},
                "defaultRequest": {"cpu": "0.1"},
                "max": {"cpu": "2"},
            },
        ),
        (
            """
            apiVersion: v1
            kind: ResourceQuota
            metadata: {name: quota}
            spec: {hard: {cpu: 10, pods: 20, requests.memory: 8Gi}}
            """,
            ("spec", "hard"),
            {"cpu": "10", "pods": "20", "requests.memory": "8Gi"},
        ),
        (
            """
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: data}
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1073741824}}}
            """,
            ("spec", "resources"),
            {"requests": {"storage": "1073741824"}},
        ),
        (
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
            ("spec", "metrics", 0, "pods", "target"),
            {"type": "AverageValue", "averageValue": "100"},
        ),
        (
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              overhead: {cpu: 0.25}
              containers: [{name: c, image: nginx}]
            """,
            ("spec", "overhead"),
            {"cpu": "0.25"},
        ),
    ],
    ids=["limitrange", "resourcequota", "pvc-storage", "hpa-average-value", "pod-overhead"],
)
def test_every_kind_of_quantity_field_the_server_refused_as_a_number(text, path, expected):
    form = apply_form(manifest(text), SCHEMA)
    for step in path:
        form = form[step]
    assert form == expected


def test_a_kind_the_schema_does_not_know_is_sent_as_written():
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 0.5}}
    assert apply_form(widget, SCHEMA) is widget
    assert apply_form(DEPLOYMENT, None) is DEPLOYMENT


def test_a_newer_servers_published_key_default_is_used():
    """Kubernetes 1.22 and later publish `default` for keys such as ServicePort.protocol,
    written next to a reference with allOf. The shape here is that of their /openapi/v2
    (a hand-made excerpt, with an unusual default so that it cannot come from the table)."""
    newer = ApplySchema(
        {
            "definitions": {
                "io.k8s.api.core.v1.Service": {
                    "properties": {"spec": {"allOf": [{"$ref": "#/definitions/spec"}]}},
                    "x-kubernetes-group-version-kind": [
                        {"group": "", "version": "v1", "kind": "Service"}
                    ],
                },
                "spec": {
                    "properties": {
                        "ports": {
                            "items": {"allOf": [{"$ref": "#/definitions/port"}]},
                            "type": "array",
                            "x-kubernetes-list-map-keys": ["port", "protocol"],
                            "x-kubernetes-list-type": "map",
                        }
                    }
                },
                "port": {
                    "properties": {
                        "port": {"type": "integer"},
                        "protocol": {"default": "SCTP", "type": "string"},
                    }
                },
            }
        }
    )
    service = {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}
    assert apply_form(service, newer)["spec"]["ports"] == [{"protocol": "SCTP", "port": 80}]


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        (0.1, "0.1"),
        (2, "2"),
        (1.5, "1.5"),
        (1e9, "1000000000"),
        (2.5e-07, "0.00000025"),
        ("100m", "100m"),
        (True, True),
    ],
)
def test_quantity_text(written, sent):
    assert quantity_text(written) == sent


NEWER = ApplySchema(
    json.loads((Path(__file__).parent / "fixtures" / "openapi-v1.36-excerpt.json").read_text())
)


def test_the_same_manifests_take_the_same_form_for_a_1_36_server():
    assert apply_form(DEPLOYMENT, NEWER) == apply_form(DEPLOYMENT, SCHEMA)
    service = manifest("""
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      ports: [{name: http, port: 80, targetPort: 8080}]
    """)
    assert apply_form(service, NEWER)["spec"]["ports"] == [
        {"protocol": "TCP", "name": "http", "port": 80, "targetPort": 8080}
    ]


def test_kinds_only_newer_servers_serve_take_their_form_from_their_schema():
    autoscaler = manifest("""
    apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata: {name: web}
    spec:
      scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
      maxReplicas: 5
      metrics:
      - type: Pods
        pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: 100}}
    """)
    cronjob = manifest("""
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: report}
    spec:
      schedule: "0 6 * * *"
      jobTemplate:
        spec:
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: report, image: shop/report:1, resources: {limits: {cpu: 0.5}}}
    """)
    budget = manifest("""
    apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: web}
    spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
    """)

    target = apply_form(autoscaler, NEWER)["spec"]["metrics"][0]["pods"]["target"]
    assert target["averageValue"] == "100"
    job = apply_form(cronjob, NEWER)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["resources"] == {"limits": {"cpu": "0.5"}}
    assert apply_form(budget, NEWER)["spec"]["minAvailable"] == 1  # int-or-string: as written
    assert apply_form(cronjob, SCHEMA) is cronjob  # 1.20 serves no batch/v1 CronJob
