"""Incremental sync: `updated_at` on findings, requests and approvals, `?updated_since=`,
and `ordering=updated_at` paging by (updated_at, id) so a client neither skips nor repeats
an object, and one changed while it pages comes again later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from drift.engine.normalize import ObjectKey
from drift.models import Finding
from drift.services import ledger, triage
from drift.services.ledger import Observation
from remediation.models import Approval, RemediationRequest
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db

EPOCH = timezone.now().replace(microsecond=0) - timedelta(days=3)


def at(hours: float) -> Any:
    return EPOCH + timedelta(hours=hours)


def stamped(findings: list[Finding], hours: float) -> list[int]:
    """Give the findings one shared updated_at (a scan opens thousands at one moment)."""
    ids = [f.pk for f in findings]
    Finding.objects.filter(pk__in=ids).update(updated_at=at(hours))
    return ids


def sync(client: Any, path: str, since: Any, size: int, between_pages: Any = None) -> list[dict]:
    """Every object a sync client receives, page by page, following `next`."""
    received: list[dict] = []
    query = {"updated_since": since.isoformat(), "ordering": "updated_at", "page_size": size}
    page = client.get(path, query)
    while True:
        assert page.status_code == 200, page.json()
        body = page.json()
        received += body["results"]
        if between_pages is not None:
            between_pages(len(received))
        if body["next"] is None:
            return received
        page = client.get(body["next"])


def test_paging_by_updated_at_neither_skips_nor_repeats_rows_sharing_a_timestamp(
    client_for, viewer
):
    shared = stamped(FindingFactory.create_batch(9), 1)
    resolved = stamped(FindingFactory.create_batch(4, status="resolved", resolved_at=at(2)), 2)
    later = stamped(FindingFactory.create_batch(3), 3)
    stamped(FindingFactory.create_batch(2), -1)  # before the sync point

    received = sync(client_for(viewer), "/api/v1/findings/", at(0), size=4)

    ids = [f["id"] for f in received]
    assert ids == sorted(shared) + sorted(resolved) + sorted(later)
    assert received[0]["updated_at"] == at(1).isoformat().replace("+00:00", "Z")


def test_a_finding_changed_while_paging_comes_again_later_and_none_is_lost(
    client_for, viewer, operator
):
    ids = sorted(stamped(FindingFactory.create_batch(12), 1))
    seen_early, unseen = ids[1], ids[10]

    def triage_on_first_page(received: int) -> None:
        if received == 5:  # the client holds page 1; two findings change meanwhile
            triage.acknowledge([seen_early, unseen], operator, "mine")

    received = sync(client_for(viewer), "/api/v1/findings/", at(0), 5, triage_on_first_page)

    order = [f["id"] for f in received]
    assert sorted(set(order)) == ids  # none lost
    untouched = [pk for pk in order if pk not in (seen_early, unseen)]
    assert len(untouched) == len(set(untouched)) == 10  # none repeated
    # The changed ones come last, at their new position, as they are now.
    assert order[-2:] == [seen_early, unseen]
    assert [f["status"] for f in received[-2:]] == ["acknowledged", "acknowledged"]
    assert order.count(seen_early) == 2 and order.count(unseen) == 1


def test_updated_since_returns_changes_of_every_status(client_for, viewer):
    stamped([FindingFactory()], -2)
    changed = stamped([FindingFactory()], 1)
    resolved = stamped([FindingFactory(status="resolved", resolved_at=at(1))], 1)

    response = client_for(viewer).get("/api/v1/findings/", {"updated_since": at(0).isoformat()})

    assert sorted(f["id"] for f in response.json()["results"]) == sorted(changed + resolved)


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-05-01",  # no time, no offset
        "2026-05-01T12:00:00",  # no offset: which zone would it be in?
        "2026-05-01T12:00:00 02:00",  # a + sent bare in a URL reads as a space
        "0001-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
    ],
)
def test_a_bad_updated_since_is_a_400_naming_it(client_for, viewer, value):
    for path in ("/api/v1/findings/", "/api/v1/remediations/", "/api/v1/approvals/"):
        response = client_for(viewer).get(path, {"updated_since": value})

        assert response.status_code == 400, (path, response.json())
        assert [e["field"] for e in response.json()["errors"]] == ["updated_since"]


def test_an_offset_sent_encoded_is_read(client_for, viewer):
    changed = stamped([FindingFactory()], 1)
    stamped([FindingFactory()], -1)
    since = at(2).astimezone(timezone.get_fixed_timezone(120)).isoformat()  # +02:00

    response = client_for(viewer).get(
        f"/api/v1/findings/?updated_since={since.replace('+', '%2B')}"
    )

    assert since.endswith("+02:00")
    assert response.status_code == 200
    assert [f["id"] for f in response.json()["results"]] == []
    earlier = at(0).astimezone(timezone.get_fixed_timezone(120)).isoformat().replace("+", "%2B")
    again = client_for(viewer).get(f"/api/v1/findings/?updated_since={earlier}")
    assert [f["id"] for f in again.json()["results"]] == changed


# --- what moves updated_at --------------------------------------------------------------

WEB = ObjectKey("apps", "Deployment", "shop", "web")


def everything(key: ObjectKey) -> bool:
    return True


def observed(severity: str = "high", paths: tuple[str, ...] = ("/spec/replicas",)) -> Observation:
    return Observation(WEB, "apps/v1", "modified", severity, {"paths": list(paths)})


@pytest.fixture
def scanned() -> Any:
    cluster, policy = ClusterFactory(name="east"), DriftPolicyFactory(name="shop")

    def scan(*observations: Observation) -> Finding:
        ledger.record(policy, cluster, observations, everything)
        return Finding.objects.order_by("-pk").first()

    return scan


def test_seeing_the_same_drift_again_moves_last_seen_but_not_updated_at(scanned):
    first = scanned(observed())
    Finding.objects.filter(pk=first.pk).update(updated_at=at(0), sighted_at=at(0))

    again = scanned(observed())

    assert again.pk == first.pk
    assert again.last_seen > at(0)
    assert again.updated_at == at(0)


@pytest.mark.parametrize(
    "change", [observed(severity="critical"), observed(paths=("/spec/replicas", "/spec/image"))]
)
def test_a_drift_that_changes_moves_updated_at(scanned, change):
    first = scanned(observed())
    Finding.objects.filter(pk=first.pk).update(updated_at=at(0))

    changed = scanned(change)

    assert changed.pk == first.pk and changed.updated_at > at(0)


def test_a_resolution_moves_updated_at(scanned):
    first = scanned(observed())
    Finding.objects.filter(pk=first.pk).update(updated_at=at(0))

    scanned()  # not seen any more

    first.refresh_from_db()
    assert first.status == "resolved" and first.updated_at == first.resolved_at


def test_triage_and_tickets_move_updated_at_and_a_repeat_does_not(operator):
    finding = FindingFactory()
    moments = []
    for change in (
        lambda: triage.acknowledge([finding.pk], operator, "mine"),
        lambda: triage.acknowledge([finding.pk], operator, "mine"),  # already so
        lambda: triage.reopen([finding.pk], operator),
        lambda: triage.link_ticket(finding.pk, operator, "OPS-1"),
        lambda: triage.link_ticket(finding.pk, operator, "OPS-1"),  # already so
        lambda: triage.unlink_ticket(finding.pk, operator),
    ):
        Finding.objects.filter(pk=finding.pk).update(updated_at=at(0))
        change()
        finding.refresh_from_db()
        moments.append(finding.updated_at > at(0))

    assert moments == [True, False, True, True, False, True]


# --- requests and approvals --------------------------------------------------------------


@pytest.fixture
def pending(requester) -> RemediationRequest:
    finding = FindingFactory(policy=DriftPolicyFactory(name="shop"))
    request = RemediationRequest.objects.create(
        cluster=finding.cluster,
        policy=finding.policy,
        strategy="sync",
        severity="critical",
        requested_by=requester,
        approvals_required=2,
    )
    request.findings.set([finding])
    return request


def test_a_decision_moves_the_request_and_syncs_with_its_approval(
    client_for, viewer, approver, pending
):
    RemediationRequest.objects.filter(pk=pending.pk).update(updated_at=at(0))
    untouched = RemediationRequest.objects.create(
        cluster=pending.cluster, strategy="sync", severity="low"
    )
    RemediationRequest.objects.filter(pk=untouched.pk).update(updated_at=at(-1))
    since = timezone.now() - timedelta(seconds=1)

    client_for(approver).post(f"/api/v1/remediations/{pending.pk}/approve/")

    client = client_for(viewer)
    requests = sync(client, "/api/v1/remediations/", since, size=10)
    approvals = sync(client, "/api/v1/approvals/", since, size=10)
    assert [r["id"] for r in requests] == [pending.pk]
    assert requests[0]["status"] == "pending"  # one of two approvals: changed all the same
    approval = Approval.objects.get()
    assert [a["id"] for a in approvals] == [approval.pk]
    assert approval.updated_at == approval.created_at or approval.updated_at >= since


def test_requests_page_by_updated_at_with_ties(client_for, viewer, pending):
    made = [
        RemediationRequest.objects.create(cluster=pending.cluster, strategy="sync", severity="low")
        for _ in range(6)
    ]
    ids = sorted(r.pk for r in made)
    RemediationRequest.objects.filter(pk__in=ids).update(updated_at=at(1))
    RemediationRequest.objects.filter(pk=pending.pk).update(updated_at=at(-1))

    received = sync(client_for(viewer), "/api/v1/remediations/", at(0), size=4)

    assert [r["id"] for r in received] == ids


def test_the_schema_documents_updated_since_and_the_ordering(client_for, viewer):
    schema = client_for(viewer).get("/api/schema/", {"format": "json"}).json()

    for path in ("/api/v1/findings/", "/api/v1/remediations/", "/api/v1/approvals/"):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        since = parameters["updated_since"]["schema"]
        assert (since["type"], since["format"]) == ("string", "date-time")  # and its years
        assert {"updated_at", "-updated_at"} <= set(parameters["ordering"]["schema"]["enum"])


def test_the_migrations_backfill_the_latest_known_change(requester, operator):
    import importlib

    from django.apps import apps

    opened = FindingFactory(first_seen=at(0))
    resolved = FindingFactory(first_seen=at(0), status="resolved", resolved_at=at(2))
    suppressed = FindingFactory(first_seen=at(0))
    triage.suppress([suppressed.pk], operator, "known", timezone.now() + timedelta(days=1))
    request = RemediationRequest.objects.create(
        cluster=opened.cluster, strategy="sync", severity="low", requested_by=requester
    )
    RemediationRequest.objects.filter(pk=request.pk).update(
        updated_at=at(0), finished_at=at(3), started_at=at(1)
    )
    Finding.objects.update(updated_at=at(-9))

    importlib.import_module("drift.migrations.0007_finding_updated_at").backfill(apps, None)
    importlib.import_module("remediation.migrations.0003_updated_at").backfill(apps, None)

    moments = dict(Finding.objects.values_list("pk", "updated_at"))
    assert moments[opened.pk] == at(0)
    assert moments[resolved.pk] == at(2)
    assert moments[suppressed.pk] > at(71)  # from the audit trail: suppressed just now
    assert RemediationRequest.objects.get().updated_at == at(3)
