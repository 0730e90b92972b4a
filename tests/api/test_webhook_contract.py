"""The webhook contract: every event the code publishes is in the catalogue, and what a
receiver gets, in either payload version, keeps to the event's published JSON Schema."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from jsonschema import Draft202012Validator

from alignment.admission import decide as deciding
from alignment.admission import events as admission_events
from alignment.admission import recording, world
from alignment.admission.decide import decide
from alignment.admission.review import parse
from alignment.models import AdmissionDecision
from drift.engine.normalize import ObjectKey
from drift.engine.severity import LEVELS
from drift.models import FindingStatus, FindingType, RemediationStrategy
from drift.services import ledger, scanning
from drift.services.ledger import Observation
from drift.services.ledger_events import event_payload
from driftcontrol import webhooks
from driftcontrol.models import OutboxEvent, WebhookDelivery
from driftcontrol.outbox import publish
from driftcontrol.webhooks import schemas
from remediation import services
from remediation.models import RemediationRequest, RequestStatus, RequestTrigger
from remediation.services.transitions import finish, payload
from tests.alignment.admission.test_decide import DEPLOYER, ON_CALL, OUTSIDER, REVISION, set_image
from tests.factories import (
    ClusterFactory,
    DriftPolicyFactory,
    FindingFactory,
    LaneFactory,
    ManagedObjectFactory,
    ScanFactory,
)

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret-0123456789"
WEB = ObjectKey("apps", "Deployment", "shop", "web")


def seen(severity: str = "high") -> Observation:
    return Observation(
        WEB, "apps/v1", "modified", severity, {"paths": ["/spec/replicas"]}, source="k8s/a.yaml:1"
    )


def everything(key: ObjectKey) -> bool:
    return True


def findings_come_and_go() -> None:
    """finding.opened, severity_changed and resolved, from the ledger a scan writes to."""
    cluster, policy = ClusterFactory(name="prod-eu"), DriftPolicyFactory(name="shop")
    ledger.record(policy, cluster, [seen("high")], everything)
    ledger.record(policy, cluster, [seen("critical")], everything)
    ledger.record(policy, cluster, [], everything)


def a_scan_is_lost() -> None:
    """scan.failed, from the reaper."""
    ScanFactory(status="running", heartbeat_at=timezone.now() - timedelta(hours=1))
    scanning.reap()


def remediations_run_their_course(requester: Any, approver: Any) -> None:
    """Every remediation.* event, from the services that publish them."""
    cluster = ClusterFactory(name="east")
    policy = DriftPolicyFactory(name="orders", cluster_names=["east"])

    def requested() -> RemediationRequest:
        # Alerts plan without a cluster; asking for an approval keeps them pending.
        found = [FindingFactory(cluster=cluster, policy=policy, severity="high")]
        return services.request_remediation(found, "alert", requester, approvals_required=1)

    services.approve(requested().pk, approver)  # requested, approved
    services.reject(requested().pk, approver, "not in the freeze")
    services.cancel(requested().pk, requester)
    stale = requested()
    RemediationRequest.objects.filter(pk=stale.pk).update(expires_at=timezone.now())
    services.expire_due()
    done, broken = requested(), requested()
    finish(done, RequestStatus.SUCCEEDED, "alert sent", {"alerted": True})
    finish(broken, RequestStatus.FAILED, "the result does not verify", {"verified": False})
    # What the alert strategy and a finished rollback publish, with their own payloads.
    publish("remediation.alert", payload(done, reason=done.reason))
    undo = requested()
    publish("remediation.rolled_back", payload(undo, rollback_of=broken.pk))
    publish("remediation.requested", payload(undo, replanned=True, why="Git moved"))


def decided(outcome: str, rules: list[str], **fields: Any) -> AdmissionDecision:
    """A decision of the admission webhook, as its recorder keeps it."""
    fields = {
        "at": timezone.now(),
        "cluster": ClusterFactory(name=f"admitting-{outcome}"),
        "lane": "controlled",
        "outcome": outcome,
        "rules": rules,
        "message": "lane.deployer: apps/Deployment shop/web is managed by Git (shop@9f2c1e7)",
        "user": "mallory@example.com",
        "groups": ["devs", "system:authenticated"],
        "operation": "UPDATE",
        "api_group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "uid": f"705ab4f5-6393-11e8-b7cc-42010a80000{len(outcome)}",
        **fields,
    }
    return AdmissionDecision.objects.create(**fields)


def admission_decides() -> None:
    """admission.denied and admission.break_glass, as the webhook's recorder writes them:
    alice's kubectl set image on a Deployment Git manages in a lane in mode deny, and the
    same by bob of the lane's break-glass group."""
    controlled = LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    )
    cluster = ClusterFactory(name="admitting")
    cluster.lanes.add(controlled)
    policy = DriftPolicyFactory(name="deploy", cluster_names=["admitting"])
    ManagedObjectFactory(
        policy=policy,
        cluster=cluster,
        revision=REVISION,
    )
    known = world.build(cluster)
    batch = recording.Batch()
    for n, user in enumerate((OUTSIDER, ON_CALL)):
        request = parse(set_image(user, uid=f"3f5c2a7e-9b8d-4c61-a0f2-6d1e8b4c7a9{n}"))
        batch.add(cluster.name, request, decide(request, known), 1.5, timezone.now())
    recording.write(batch, None)


@pytest.fixture
def everything_published(requester, approver, tasks):
    findings_come_and_go()
    a_scan_is_lost()
    remediations_run_their_course(requester, approver)
    admission_decides()
    return set(OutboxEvent.objects.values_list("event_type", flat=True))


def validate(body: dict[str, Any]) -> None:
    schema = webhooks.envelope_schema(body["type"], body["payload_version"])
    Draft202012Validator(schema).validate(body)


def test_every_schema_is_a_valid_draft_2020_12_schema():
    for name in webhooks.CATALOGUE:
        for version in (1, 2):
            Draft202012Validator.check_schema(webhooks.envelope_schema(name, version))


def test_the_schemas_enumerate_the_domains_values():
    assert list(schemas.SEVERITIES) == list(LEVELS)
    assert list(schemas.FINDING_TYPES) == FindingType.values
    assert list(schemas.FINDING_STATUSES) == FindingStatus.values
    assert list(schemas.REQUEST_STATUSES) == RequestStatus.values
    assert list(schemas.STRATEGIES) == RemediationStrategy.values
    assert list(schemas.REQUEST_TRIGGERS) == RequestTrigger.values
    assert schemas.ADMISSION_OPERATIONS == deciding.CHANGES
    for schema in (schemas.ADMISSION_DENIED, schemas.ADMISSION_BREAK_GLASS):
        assert schema["properties"]["outcome"]["const"] in deciding.OUTCOMES


def test_publish_refuses_an_event_type_missing_from_the_catalogue():
    with pytest.raises(ValueError, match="not in the webhook catalogue"):
        publish("finding.exploded", {"finding": {"id": 1}})
    with pytest.raises(ValueError):
        publish("ping", {})
    assert not OutboxEvent.objects.exists()


def test_every_catalogued_event_is_published_by_the_code_and_reaches_receivers_as_described(
    everything_published, receiver, private_targets, tasks, django_capture_on_commit_callbacks
):
    legacy, _ = webhooks.subscribe("cli:test", "legacy", receiver.url, ["*"], SECRET)
    legacy.payload_version = 1
    legacy.save()
    current, _ = webhooks.subscribe("cli:test", "current", receiver.url, ["*"], SECRET)
    tasks.run("webhooks.deliver", webhooks.deliver)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.dispatch()
        webhooks.ping("cli:test", current.pk)
        webhooks.ping("cli:test", legacy.pk)

    assert everything_published == set(webhooks.EVENT_TYPES)
    bodies = [request.json() for request in receiver.wait_for(WebhookDelivery.objects.count())]
    for body in bodies:
        validate(body)
    versions = {(b["type"], b["payload_version"]) for b in bodies}
    assert versions == {(name, v) for name in webhooks.CATALOGUE for v in (1, 2)}


def test_a_payload_that_strays_from_its_schema_is_caught():
    finding = FindingFactory()
    body = {
        "id": "0b7e5a4e-4f59-4d8e-9a53-2f1d1f0a6c11",
        "type": "finding.opened",
        "time": "2026-12-01T10:00:00Z",
        "payload_version": 2,
        "payload": json.loads(json.dumps(event_payload(finding), default=str)),
    }
    validate(body)

    body["payload"]["finding"]["ticketId"] = "OPS-1"  # a v1 name in a v2 payload
    with pytest.raises(Exception, match="Additional properties"):
        validate(body)


@pytest.mark.parametrize(
    "event_type, outcome, rules",
    [
        (admission_events.DENIED, "deny", ["lane.deployer", "supply.unsigned"]),
        (admission_events.BREAK_GLASS, "break-glass", ["lane.break-glass", "lane.deployer"]),
    ],
)
def test_an_admission_decisions_payload_keeps_to_its_schema_in_both_versions(
    event_type, outcome, rules
):
    # A DELETE of a scaled Deployment's subresource: the fields that are often empty set.
    decision = decided(outcome, rules, operation="DELETE", subresource="scale", lane="")
    stored = admission_events.payload(decision)
    body = {
        "id": "0b7e5a4e-4f59-4d8e-9a53-2f1d1f0a6c11",
        "type": event_type,
        "time": stored["at"],
        "payload_version": 2,
        "payload": json.loads(json.dumps(stored)),
    }

    validate(body)
    validate({**body, "payload_version": 1, "payload": webhooks.versions.payload_in(stored, 1)})
    assert webhooks.versions.payload_in(stored, 1)["apiGroup"] == "apps"
    other = admission_events.BREAK_GLASS if outcome == "deny" else admission_events.DENIED
    with pytest.raises(Exception, match="was expected"):
        validate({**body, "type": other})
    with pytest.raises(Exception, match="Additional properties"):
        validate({**body, "payload": {**body["payload"], "links": {}}})


def test_version_1_keeps_the_legacy_camel_case_shape_exactly():
    stored = {
        "finding": {
            "id": 7,
            "api_version": "apps/v1",
            "first_seen": "t1",
            "last_seen": "t2",
            "resolved_at": None,
            "recurrence_of": 3,
            "ticket_id": "OPS-1",
            "ticket_url": "https://t/OPS-1",
            "paths": ["/spec/replicas"],
        },
        "links": {"ui": "u", "api": "a"},
        "previous_severity": "low",
        "escalated": True,
    }

    legacy = webhooks.versions.payload_in(stored, 1)

    assert legacy == {
        "finding": {
            "id": 7,
            "apiVersion": "apps/v1",
            "firstSeen": "t1",
            "lastSeen": "t2",
            "resolvedAt": None,
            "recurrenceOf": 3,
            "ticketId": "OPS-1",
            "ticketUrl": "https://t/OPS-1",
            "paths": ["/spec/replicas"],
        },
        "links": {"ui": "u", "api": "a"},
        "previousSeverity": "low",
        "escalated": True,
    }
    assert webhooks.versions.as_v2(legacy) == stored


def test_version_1_renames_no_key_inside_free_form_values():
    stored = {
        "request": {"id": 1, "plan_version": 2, "approvals_required": 1, "requested_by": "rita"},
        "result": {"remaining": {"apps/v1/Deployment/shop/first_seen": ["/spec"]}},
        "rollback_of": 4,
    }

    assert webhooks.versions.payload_in(stored, 1) == {
        "request": {"id": 1, "planVersion": 2, "approvalsRequired": 1, "requestedBy": "rita"},
        "result": {"remaining": {"apps/v1/Deployment/shop/first_seen": ["/spec"]}},
        "rollbackOf": 4,
    }


def test_the_catalogue_lists_every_event_with_its_schema(client_for, viewer):
    client = client_for(viewer)

    listed = client.get("/api/v1/webhook-events/")
    one = client.get("/api/v1/webhook-events/finding.opened/")
    legacy = client.get("/api/v1/webhook-events/finding.opened/", {"payload_version": 1})

    assert listed.status_code == 200
    assert [e["type"] for e in listed.json()] == list(webhooks.CATALOGUE)
    assert all(e["description"] and e["schema"]["$schema"] for e in listed.json())
    assert one.json() == webhooks.envelope_schema("finding.opened")
    finding = one.json()["properties"]["payload"]["properties"]["finding"]
    assert "ticket_id" in finding["properties"] and finding["additionalProperties"] is False
    legacy_finding = legacy.json()["properties"]["payload"]["properties"]["finding"]
    assert "ticketId" in legacy_finding["required"]


def test_the_catalogue_refuses_unknown_types_and_versions(client_for, viewer):
    client = client_for(viewer)

    missing = client.get("/api/v1/webhook-events/finding.exploded/")
    bad = client.get("/api/v1/webhook-events/", {"payload_version": 3})
    unknown = client.get("/api/v1/webhook-events/", {"version": 1})

    assert missing.status_code == 404
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "payload_version"
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "version"


def test_the_catalogue_is_in_the_openapi_document(client_for, viewer):
    document = client_for(viewer).get("/api/schema/", {"format": "json"}).json()

    listing = document["paths"]["/api/v1/webhook-events/"]["get"]
    detail = document["paths"]["/api/v1/webhook-events/{type}/"]["get"]
    assert listing["summary"] and listing["description"]
    assert detail["summary"] and detail["description"]
    assert {p["name"] for p in listing["parameters"]} >= {"payload_version"}
    ping = document["paths"]["/api/v1/webhooks/{id}/ping/"]["post"]
    rotate = document["paths"]["/api/v1/webhooks/{id}/rotate-secret/"]["post"]
    assert ping["summary"] and rotate["summary"]
    deliveries = document["paths"]["/api/v1/webhook-deliveries/"]["get"]
    assert {"since", "until"} <= {p["name"] for p in deliveries["parameters"]}


def test_the_migration_keeps_existing_subscriptions_on_1_and_stores_events_in_2():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("driftcontrol.migrations.0005_webhook_contract")
    existing, _ = webhooks.subscribe("cli:test", "old", "https://93.184.216.34/", ["*"], SECRET)
    legacy = {
        "finding": {"id": 1, "ticketId": "OPS-1", "firstSeen": "t"},
        "previousSeverity": "low",
    }
    event = OutboxEvent.objects.create(event_type="finding.severity_changed", payload=legacy)

    migration.forwards(apps, None)

    existing.refresh_from_db()
    event.refresh_from_db()
    assert existing.payload_version == 1
    assert event.payload == {
        "finding": {"id": 1, "ticket_id": "OPS-1", "first_seen": "t"},
        "previous_severity": "low",
    }
    assert webhooks.versions.payload_in(event.payload, 1) == legacy
