"""Bulk triage: acknowledge, suppress or link a ticket to many findings in one call, each
through the single-item service in its own transaction, with one result per id."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from drift.models import Finding
from driftcontrol.models import AuditEvent
from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db


def outcomes(response) -> dict[int, str]:
    assert response.status_code == 200, response.json()
    return {r["id"]: r["outcome"] for r in response.json()["results"]}


def test_it_acknowledges_each_finding_and_says_what_became_of_each(client_for, operator):
    open_ones = FindingFactory.create_batch(2)
    resolved = FindingFactory(status="resolved", resolved_at=timezone.now())
    ids = [f.pk for f in open_ones] + [resolved.pk, 99999999]

    response = client_for(operator).post(
        "/api/v1/findings/bulk-acknowledge/", {"ids": ids, "comment": "mine"}, format="json"
    )

    body = response.json()
    assert outcomes(response) == {
        open_ones[0].pk: "applied",
        open_ones[1].pk: "applied",
        resolved.pk: "error",
        99999999: "error",
    }
    assert body["summary"] == {"applied": 2, "unchanged": 0, "error": 2}
    results = {r["id"]: r for r in body["results"]}
    assert results[open_ones[0].pk]["finding"]["status"] == "acknowledged"
    assert results[open_ones[0].pk]["error"] is None
    assert results[resolved.pk]["error"] == {
        "type": "invalid-transition",
        "title": "Conflict",
        "status": 409,
        "detail": f"finding #{resolved.pk} is resolved",
    }
    assert results[99999999]["error"]["type"] == "not-found"
    assert results[99999999]["finding"] is None
    assert AuditEvent.objects.filter(action="finding.acknowledged").count() == 2


def test_a_second_identical_call_changes_nothing(client_for, operator):
    ids = [f.pk for f in FindingFactory.create_batch(3)]
    client = client_for(operator)
    until = (timezone.now() + timedelta(days=7)).isoformat()
    body = {"ids": ids, "reason": "accepted for the migration", "until": until}

    first = client.post("/api/v1/findings/bulk-suppress/", body, format="json")
    second = client.post("/api/v1/findings/bulk-suppress/", body, format="json")

    assert set(outcomes(first).values()) == {"applied"}
    assert set(outcomes(second).values()) == {"unchanged"}
    assert second.json()["summary"] == {"applied": 0, "unchanged": 3, "error": 0}
    assert AuditEvent.objects.filter(action="finding.suppressed").count() == 3
    assert {f.status for f in Finding.objects.all()} == {"suppressed"}


def test_acknowledging_again_is_unchanged(client_for, operator):
    finding = FindingFactory()
    client = client_for(operator)
    client.post(f"/api/v1/findings/{finding.pk}/acknowledge/", {}, format="json")

    response = client.post(
        "/api/v1/findings/bulk-acknowledge/", {"ids": [finding.pk]}, format="json"
    )

    assert outcomes(response) == {finding.pk: "unchanged"}


def test_one_ticket_is_linked_to_many_findings(client_for, operator):
    linked = FindingFactory(ticket_id="OPS-7", ticket_url="https://t.example/OPS-7")
    fresh = FindingFactory()
    body = {"ids": [fresh.pk, linked.pk], "ticket_id": "OPS-7", "url": "https://t.example/OPS-7"}

    response = client_for(operator).post("/api/v1/findings/bulk-ticket/", body, format="json")

    assert outcomes(response) == {fresh.pk: "applied", linked.pk: "unchanged"}
    assert [r["id"] for r in response.json()["results"]] == [fresh.pk, linked.pk]
    assert Finding.objects.filter(ticket_id="OPS-7").count() == 2
    assert AuditEvent.objects.filter(action="finding.ticket_linked").count() == 1


def test_an_id_given_twice_counts_once(client_for, operator):
    finding = FindingFactory()

    response = client_for(operator).post(
        "/api/v1/findings/bulk-acknowledge/", {"ids": [finding.pk, finding.pk]}, format="json"
    )

    assert response.json()["results"][0]["outcome"] == "applied"
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "ids",
    [[], list(range(1, 502)), ["one"], [0], [2**63], 7, None],
)
def test_ids_are_checked(client_for, operator, ids):
    response = client_for(operator).post(
        "/api/v1/findings/bulk-acknowledge/", {"ids": ids}, format="json"
    )

    assert response.status_code == 400
    assert {e["field"].split("[")[0] for e in response.json()["errors"]} == {"ids"}


def test_a_suppression_that_ends_in_the_past_refuses_the_whole_call(client_for, operator):
    finding = FindingFactory()
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    response = client_for(operator).post(
        "/api/v1/findings/bulk-suppress/",
        {"ids": [finding.pk], "reason": "x", "until": past},
        format="json",
    )

    assert response.status_code == 400
    assert Finding.objects.get().status == "open"


def test_a_viewer_may_not(client_for, viewer):
    finding = FindingFactory()

    response = client_for(viewer).post(
        "/api/v1/findings/bulk-acknowledge/", {"ids": [finding.pk]}, format="json"
    )

    assert response.status_code == 403
    assert Finding.objects.get().status == "open"


def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(client_for, operator):
    ids = [f.pk for f in FindingFactory.create_batch(2)]
    client = client_for(operator)

    first = client.post(
        "/api/v1/findings/bulk-acknowledge/",
        {"ids": ids},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bulk-1",
    )
    retried = client.post(
        "/api/v1/findings/bulk-acknowledge/",
        {"ids": ids},
        format="json",
        HTTP_IDEMPOTENCY_KEY="bulk-1",
    )

    assert set(outcomes(retried).values()) == {"applied"}  # the first answer, replayed
    assert retried.json() == first.json()
    assert retried["Idempotent-Replayed"] == "true"


def test_the_results_cost_one_query_for_all_findings(client_for, operator):
    ids = [f.pk for f in FindingFactory.create_batch(8)]
    client = client_for(operator)

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/findings/bulk-acknowledge/", {"ids": ids}, format="json")

    assert set(outcomes(response).values()) == {"applied"}
    reads = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    # Per item the service locks its row; the results are read once, clusters and all.
    findings_read = [q for q in reads if 'FROM "drift_finding"' in q and "FOR UPDATE" not in q]
    assert len(findings_read) == 1
    assert not [q for q in reads if q.startswith('SELECT "drift_cluster"')]


def test_the_schema_describes_each_bulk_operation(client_for, viewer):
    schema = client_for(viewer).get("/api/schema/", {"format": "json"}).json()

    for name in ("bulk-acknowledge", "bulk-suppress", "bulk-ticket"):
        operation = schema["paths"][f"/api/v1/findings/{name}/"]["post"]
        assert operation["summary"] and operation["description"]
        assert "Idempotency-Key" in {p["name"] for p in operation.get("parameters", [])}
        response = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert response == {"$ref": "#/components/schemas/BulkTriageResult"}
