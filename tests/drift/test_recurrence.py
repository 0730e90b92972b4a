"""A drift that comes back: the new finding links the earlier episode and keeps its ticket,
says so in its event, its API representation and its page, and `?ticket=` finds it."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from drift.engine.normalize import ObjectKey
from drift.models import Cluster, DriftPolicy, Finding
from drift.services import ledger, triage
from drift.services.ledger import Observation
from driftcontrol import tokens
from driftcontrol.models import AuditEvent, OutboxEvent
from tests.factories import ClusterFactory, DriftPolicyFactory

pytestmark = pytest.mark.django_db

WEB = ObjectKey("apps", "Deployment", "shop", "web")
TICKET_URL = "https://jira.example.com/browse/OPS-123"


def everything(key: ObjectKey) -> bool:
    return True


def seen(key: ObjectKey = WEB) -> Observation:
    return Observation(key, "apps/v1", "modified", "high", {"paths": ["/spec/replicas"]})


def deployments(count: int) -> list[Observation]:
    return [seen(ObjectKey("apps", "Deployment", "shop", f"app-{i}")) for i in range(count)]


@pytest.fixture
def cluster() -> Cluster:
    return ClusterFactory(name="prod-eu")


@pytest.fixture
def policy() -> DriftPolicy:
    return DriftPolicyFactory(name="shop")


@pytest.fixture
def ticketed(policy: DriftPolicy, cluster: Cluster, operator: Any) -> Finding:
    """A finding a ticketing system linked to OPS-123, then resolved (the drift went away)."""
    first = ledger.record(policy, cluster, [seen()], everything).opened[0]
    triage.link_ticket(first.pk, operator, "OPS-123", TICKET_URL)
    ledger.record(policy, cluster, [], everything)
    first.refresh_from_db()
    assert first.status == "resolved"
    return first


def opened_events() -> list[dict[str, Any]]:
    return [e.payload["finding"] for e in OutboxEvent.objects.filter(event_type="finding.opened")]


def test_it_links_the_earlier_finding_and_carries_its_ticket_over(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding
) -> None:
    again = ledger.record(policy, cluster, [seen()], everything).opened[0]

    again.refresh_from_db()
    assert again.pk != ticketed.pk
    assert (again.recurrence_of, again.occurrences, again.status) == (ticketed, 2, "open")
    assert (again.ticket_id, again.ticket_url) == ("OPS-123", TICKET_URL)
    ticketed.refresh_from_db()
    assert (ticketed.ticket_id, ticketed.status) == ("OPS-123", "resolved")  # history kept
    assert list(ticketed.recurrences.all()) == [again]


def test_the_opened_event_and_the_audit_trail_name_the_earlier_finding_and_ticket(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding
) -> None:
    again = ledger.record(policy, cluster, [seen()], everything).opened[0]

    first_event, second_event = opened_events()
    assert (first_event["recurrence_of"], first_event["ticket_id"]) == (None, "")
    assert (second_event["id"], second_event["recurrence_of"]) == (again.pk, ticketed.pk)
    assert (second_event["ticket_id"], second_event["ticket_url"]) == ("OPS-123", TICKET_URL)
    recorded = AuditEvent.objects.filter(action="findings.recorded").order_by("-sequence")[0]
    assert recorded.data["recurrences"] == [
        {"finding": again.pk, "recurrenceOf": ticketed.pk, "ticketId": "OPS-123"}
    ]


def test_a_first_episode_recurs_nothing(policy: DriftPolicy, cluster: Cluster) -> None:
    first = ledger.record(policy, cluster, [seen()], everything).opened[0]

    assert (first.recurrence_of_id, first.ticket_id) == (None, "")
    assert "recurrences" not in AuditEvent.objects.get().data


def test_each_episode_links_the_one_before_and_an_unlinked_ticket_stays_unlinked(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding, operator: Any
) -> None:
    second = ledger.record(policy, cluster, [seen()], everything).opened[0]
    triage.unlink_ticket(second.pk, operator)
    ledger.record(policy, cluster, [], everything)

    third = ledger.record(policy, cluster, [seen()], everything).opened[0]

    assert (third.recurrence_of_id, third.occurrences) == (second.pk, 3)
    assert third.ticket_id == ""


def test_a_deleted_earlier_finding_leaves_the_recurrence_standing(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding
) -> None:
    again = ledger.record(policy, cluster, [seen()], everything).opened[0]

    ticketed.delete()

    again.refresh_from_db()
    assert (again.recurrence_of_id, again.ticket_id) == (None, "OPS-123")


def _queries_to_open_and_reopen(
    policy: DriftPolicy, cluster: Cluster, count: int
) -> tuple[int, int]:
    observed = deployments(count)
    with CaptureQueriesContext(connection) as opening:
        ledger.record(policy, cluster, observed, everything)
    ledger.record(policy, cluster, [], everything)
    with CaptureQueriesContext(connection) as reopening:
        opened = ledger.record(policy, cluster, observed, everything).opened
    assert len(opened) == count and all(f.recurrence_of_id for f in opened)
    Finding.objects.all().delete()
    return len(opening), len(reopening)


def test_earlier_findings_are_looked_up_in_bulk(policy: DriftPolicy, cluster: Cluster) -> None:
    few = _queries_to_open_and_reopen(policy, cluster, 2)
    many = _queries_to_open_and_reopen(policy, cluster, 12)

    # Opening costs queries per finding (its outbox event...); reopening costs the same
    # per finding plus a fixed few for the whole batch, never one more per finding.
    assert many[1] - many[0] == few[1] - few[0] <= 2


def test_the_steady_state_scan_does_not_look_for_earlier_findings(
    policy: DriftPolicy, cluster: Cluster
) -> None:
    observed = deployments(5)
    ledger.record(policy, cluster, observed, everything)

    with CaptureQueriesContext(connection) as steady:
        ledger.record(policy, cluster, observed, everything)

    assert not [q for q in steady.captured_queries if "MAX(" in q["sql"].upper()]


def test_the_api_shows_the_recurrence_and_finds_every_episode_of_a_ticket_newest_first(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding, viewer: Any, settings: Any
) -> None:
    settings.API_THROTTLE_RATES = {"client": "100000/minute", "anonymous": "100000/minute"}
    again = ledger.record(policy, cluster, [seen()], everything).opened[0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.create(viewer, 'test', 'read')[1]}")

    everything_linked = api.get("/api/v1/findings/", {"ticket": "OPS-123"}).json()["results"]
    working_set = api.get("/api/v1/findings/", {"ticket": "OPS-123", "status": "open-any"})
    detail = api.get(f"/api/v1/findings/{again.pk}/").json()

    assert [(f["id"], f["recurrence_of"]) for f in everything_linked] == [
        (again.pk, ticketed.pk),
        (ticketed.pk, None),
    ]
    assert [f["id"] for f in working_set.json()["results"]] == [again.pk]
    assert (detail["recurrence_of"], detail["ticket_id"]) == (ticketed.pk, "OPS-123")
    assert detail["ticket_url"] == TICKET_URL
    default_list = api.get("/api/v1/findings/").json()["results"]
    assert [f["id"] for f in default_list] == [again.pk]  # still the working set


def test_the_finding_page_says_which_finding_it_recurs(
    policy: DriftPolicy, cluster: Cluster, ticketed: Finding, viewer: Any, client: Any
) -> None:
    again = ledger.record(policy, cluster, [seen()], everything).opened[0]
    client.force_login(viewer)

    text = client.get(reverse("finding", args=[again.pk])).content.decode()
    first_page = client.get(reverse("finding", args=[ticketed.pk])).content.decode()

    link = reverse("finding", args=[ticketed.pk])
    assert f'recurs <a href="{link}">finding #{ticketed.pk}</a>' in text
    assert "OPS-123" in text
    assert "recurs <a" not in first_page
