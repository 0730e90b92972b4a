"""The audit feed endpoint (/hooks/audit/<cluster>): authenticated by the cluster's own
token, bounded, idempotent; only completed, successful writes to objects are kept."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from alignment import audit_feed
from alignment.models import KubeWrite
from drift.engine.normalize import ObjectKey
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db
TOKEN = "3c9d0e5f2b7a41c8a6e0d2f4b1c3e5a7"
CONTROLLER = "system:serviceaccount:kube-system:deployment-controller"
LATER = "2026-12-01T11:00:00Z"

EDIT = {
    "level": "Metadata",
    "auditID": "6d1f7c8e-0b7e-4c53-9d55-1f5f3f1b2a77",
    "stage": "ResponseComplete",
    "requestURI": "/apis/apps/v1/namespaces/payments/deployments/api",
    "verb": "patch",
    "user": {"username": "alice", "groups": ["system:authenticated"]},
    "userAgent": "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19",
    "objectRef": {"resource": "deployments", "namespace": "payments", "name": "api",
                  "apiGroup": "apps", "apiVersion": "v1"},
    "responseStatus": {"metadata": {}, "code": 200},
    "requestReceivedTimestamp": "2026-12-01T10:15:02.113022Z",
    "stageTimestamp": "2026-12-01T10:15:02.131470Z",
}  # fmt: skip


def event(**changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(EDIT)
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(found.get(name), dict):
            found[name].update(value)
        else:
            found[name] = value
    return found


def post(client: Client, cluster: str, items: list[dict[str, Any]], token: str = TOKEN, **extra):  # type: ignore[no-untyped-def]
    body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items})
    return client.post(
        f"/hooks/audit/{cluster}", body, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}", **extra,
    )  # fmt: skip


@pytest.fixture
def fed():  # type: ignore[no-untyped-def]
    cluster = ClusterFactory(name="prod-eu")
    audit_feed.adopt_token(cluster, TOKEN, "system:test")
    return cluster


def test_a_write_is_kept_once_with_the_user_and_a_redelivery_keeps_nothing(client, fed) -> None:
    first = post(client, "prod-eu", [EDIT])
    again = post(client, "prod-eu", [EDIT])

    assert (first.status_code, first.json()) == (202, {"received": 1, "kept": 1})
    assert (again.status_code, again.json()) == (202, {"received": 1, "kept": 0})
    (row,) = KubeWrite.objects.all()
    assert (row.user, row.verb, row.resource, row.namespace, row.name) == (
        "alice", "patch", "deployments", "payments", "api"
    )  # fmt: skip
    assert row.groups == ["system:authenticated"] and row.user_agent.startswith("kubectl/")


def test_reads_failures_dry_runs_status_and_the_control_planes_writes_are_dropped(
    client, fed
) -> None:
    dropped = [
        event(auditID="a1", verb="get"),
        event(auditID="a2", responseStatus={"code": 409}),
        event(auditID="a3", requestURI=EDIT["requestURI"] + "?dryRun=All"),
        event(auditID="a4", objectRef={"subresource": "status"}),
        event(auditID="a5", user={"username": CONTROLLER}),
        event(auditID="a6", stage="RequestReceived"),
        event(auditID="a7", objectRef={"resource": "leases", "apiGroup": "coordination.k8s.io"}),
    ]  # fmt: skip
    kept = event(auditID="a8", verb="patch", objectRef={"subresource": "scale"})

    response = post(client, "prod-eu", [*dropped, kept])

    assert response.json() == {"received": 8, "kept": 1}
    assert list(KubeWrite.objects.values_list("audit_id", "subresource")) == [("a8", "scale")]


@pytest.mark.parametrize(
    "cluster, token",
    [("prod-eu", "wrong-token-0000000000"), ("prod-eu", ""), ("nowhere", TOKEN)],
)
def test_every_refusal_of_the_sender_is_the_same_401(client, fed, cluster, token) -> None:
    response = post(client, cluster, [EDIT], token=token)

    assert response.status_code == 401
    assert response.json()["detail"] == "the audit feed token is missing or not this cluster's"
    assert not KubeWrite.objects.exists()


def test_a_batch_that_is_not_an_event_list_is_refused_whole(client, fed) -> None:
    broken = event(auditID="b2")
    del broken["requestReceivedTimestamp"]

    not_json = client.post("/hooks/audit/prod-eu", "{", content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {TOKEN}")  # fmt: skip
    half = post(client, "prod-eu", [event(auditID="b1"), broken])

    assert not_json.status_code == 400 and "not JSON" in not_json.json()["detail"]
    assert half.status_code == 400
    assert half.json()["detail"] == "audit event 1 lacks its auditID, user or timestamp"
    assert not KubeWrite.objects.exists()


def test_a_batch_over_the_limit_is_refused_before_it_is_read(client, fed, settings) -> None:
    settings.AUDIT_HOOK_BODY_MAX_BYTES = 2048
    response = post(client, "prod-eu", [event(auditID=f"c{i}") for i in range(10)])

    assert response.status_code == 413
    assert not KubeWrite.objects.exists()


def test_writes_are_read_back_per_object_oldest_first(client, fed) -> None:
    post(client, "prod-eu", [
        event(auditID="d2", user={"username": "bob"}, requestReceivedTimestamp=LATER),
        EDIT,
        event(auditID="d3", objectRef={"name": "other"}),
    ])  # fmt: skip
    key = ObjectKey("apps", "Deployment", "payments", "api")

    found = audit_feed.writes(fed, [key], lambda group, kind: "deployments")

    assert [(w.user, w.verb, w.source) for w in found[key]] == [
        ("alice", "patch", "audit"), ("bob", "patch", "audit")
    ]  # fmt: skip
    assert audit_feed.guess_plural("NetworkPolicy") == "networkpolicies"
    assert audit_feed.guess_plural("Ingress") == "ingresses"


def test_the_cli_issues_a_token_prints_the_webhook_config_and_audits_it(db) -> None:
    cluster = ClusterFactory(name="prod-us")
    out = io.StringIO()

    call_command("drift", "audit-feed", "prod-us", "--url", "https://dc.example.com",
                 stdout=out, stderr=io.StringIO())  # fmt: skip

    printed = out.getvalue()
    assert "server: https://dc.example.com/hooks/audit/prod-us" in printed
    token = printed.split("token: ")[1].split()[0]
    cluster.refresh_from_db()
    assert audit_feed.authenticate("prod-us", f"Bearer {token}") == cluster
    assert AuditEvent.objects.filter(action="cluster.audit_feed_token").count() == 1


def test_the_endpoint_is_in_the_openapi_schema(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/hooks/audit/{cluster}"]["post"]
    assert operation["operationId"] == "audit_feed_receive"
    assert {"202", "400", "401", "413"} <= set(operation["responses"])


def test_writes_older_than_the_retention_are_pruned(client, fed, settings) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from alignment.tasks import prune_writes

    settings.KUBE_WRITES_RETENTION_DAYS = 7
    now = timezone.now()
    post(client, "prod-eu", [
        event(auditID="old", requestReceivedTimestamp=(now - timedelta(days=8)).isoformat()),
        event(auditID="new", requestReceivedTimestamp=(now - timedelta(days=6)).isoformat()),
    ])  # fmt: skip

    assert prune_writes() == 1
    assert list(KubeWrite.objects.values_list("audit_id", flat=True)) == ["new"]
