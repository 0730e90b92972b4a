"""The findings list: the dashboard's filters, keyset cursors, a fixed query count; and
triage through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from drift.models import Finding
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory, FindingFactory, LaneFactory

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_the_list_opens_on_the_working_set_newest_first(client_for, viewer):
    now = timezone.now()
    old = FindingFactory(sighted_at=now - timedelta(hours=2))
    new = FindingFactory(sighted_at=now)
    FindingFactory(status="resolved", resolved_at=now)

    response = client_for(viewer).get("/api/v1/findings/")

    assert ids(response) == [new.pk, old.pk]


def test_the_dashboards_filters_apply(client_for, viewer):
    east = ClusterFactory(name="east")
    east.lanes.add(LaneFactory(name="fast"))
    wanted = FindingFactory(cluster=east, severity="critical", kind="Role")
    FindingFactory(cluster=east, severity="low")
    FindingFactory(severity="critical")

    response = client_for(viewer).get("/api/v1/findings/", {"lane": "fast", "min_severity": "high"})

    assert ids(response) == [wanted.pk]


def test_cursor_pages_cover_every_row_once_even_with_ties(client_for, viewer):
    same_time = timezone.now()
    created = [FindingFactory(sighted_at=same_time) for _ in range(7)]
    client = client_for(viewer)

    seen, url, pages = [], "/api/v1/findings/?page_size=3", 0
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url, pages = page["next"], pages + 1

    assert sorted(seen) == sorted(f.pk for f in created) and len(seen) == 7
    assert pages == 3


def test_previous_goes_back_to_the_same_rows(client_for, viewer):
    for _ in range(5):
        FindingFactory()
    client = client_for(viewer)
    first = client.get("/api/v1/findings/?page_size=2&ordering=-severity").json()
    second = client.get(first["next"]).json()

    back = client.get(second["previous"]).json()

    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    assert back["previous"] is None


def test_a_foreign_cursor_names_no_page(client_for, viewer):
    response = client_for(viewer).get("/api/v1/findings/", {"cursor": "bm90LWEtY3Vyc29y"})

    assert response.status_code == 404
    assert response.json()["type"] == "not-found"


def test_the_list_costs_the_same_queries_for_5_or_50_findings(
    client_for, viewer, django_assert_max_num_queries
):
    client = client_for(viewer)
    for _ in range(5):
        FindingFactory()
    with django_assert_max_num_queries(6) as few:
        client.get("/api/v1/findings/")
    for _ in range(45):
        FindingFactory()

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/findings/")

    assert len(response.json()["results"]) == 50


def test_triage_through_the_api(client_for, operator):
    finding = FindingFactory()
    client = client_for(operator)
    url = f"/api/v1/findings/{finding.pk}"

    acknowledged = client.post(f"{url}/acknowledge/", {"comment": "mine"}, format="json")
    suppressed = client.post(f"{url}/suppress/", {"reason": "known", "days": 7}, format="json")
    reopened = client.post(f"{url}/reopen/", format="json")

    assert acknowledged.json()["acknowledged_by"] == "oscar"
    assert suppressed.json()["status"] == "suppressed"
    assert suppressed.json()["suppressed_until"] is not None
    assert reopened.json()["status"] == "open"
    assert AuditEvent.objects.filter(action__startswith="finding.").count() == 3


def test_a_ticket_is_linked_and_unlinked(client_for, operator):
    finding = FindingFactory()
    client = client_for(operator)

    linked = client.post(
        f"/api/v1/findings/{finding.pk}/ticket/",
        {"ticket_id": "OPS-9", "url": "https://tickets.example/OPS-9"},
        format="json",
    )
    by_ticket = client.get("/api/v1/findings/", {"ticket": "OPS-9"})
    unlinked = client.delete(f"/api/v1/findings/{finding.pk}/ticket/")

    assert linked.json()["ticket_id"] == "OPS-9" and ids(by_ticket) == [finding.pk]
    assert unlinked.json()["ticket_id"] == ""


def test_reopening_a_resolved_finding_is_409(client_for, operator):
    finding = FindingFactory(status="resolved", resolved_at=timezone.now())

    response = client_for(operator).post(f"/api/v1/findings/{finding.pk}/reopen/")

    assert response.status_code == 409
    assert "is resolved" in response.json()["detail"]


def test_a_suppression_needs_a_reason_and_an_end(client_for, operator):
    finding = FindingFactory()

    response = client_for(operator).post(
        f"/api/v1/findings/{finding.pk}/suppress/", {}, format="json"
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"reason"}
    assert Finding.objects.get().status == "open"
