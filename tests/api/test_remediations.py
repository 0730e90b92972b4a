"""Remediation requests and decisions through the API, on the services the CLI uses."""

from __future__ import annotations

import pytest

from driftcontrol.models import OutboxEvent
from remediation.models import RemediationRequest
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings():
    cluster = ClusterFactory(name="east")
    policy = DriftPolicyFactory(name="shop", cluster_names=["east"])
    return [FindingFactory(cluster=cluster, policy=policy) for _ in range(2)]


def test_an_alert_is_requested_with_its_plan_and_runs_unapproved(client_for, operator, findings):
    response = client_for(operator).post(
        "/api/v1/remediations/",
        {"findings": [f.pk for f in findings], "strategy": "alert", "reason": "OPS-1"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["requested_by"], body["reason"]) == ("approved", "oscar", "OPS-1")
    assert [s["action"] for s in body["steps"]] == ["notify", "notify"]
    assert response["Location"] == f"/api/v1/remediations/{body['id']}/"
    assert {"remediation.requested", "remediation.approved"} <= set(
        OutboxEvent.objects.values_list("event_type", flat=True)
    )


def test_unknown_findings_are_named(client_for, operator, findings):
    response = client_for(operator).post(
        "/api/v1/remediations/",
        {"findings": [findings[0].pk, 999999], "strategy": "sync"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "findings", "detail": "no finding 999999"}]


def test_findings_of_two_clusters_are_one_request_too_many(client_for, operator, findings):
    elsewhere = FindingFactory(policy=findings[0].policy)

    response = client_for(operator).post(
        "/api/v1/remediations/",
        {"findings": [findings[0].pk, elsewhere.pk], "strategy": "alert"},
        format="json",
    )

    assert response.status_code == 400
    assert "one cluster" in response.json()["detail"]


def test_a_request_needs_as_many_approvers_as_its_policy_says(
    client_for, requester, approver, second_approver, findings
):
    request = RemediationRequest.objects.create(
        cluster=findings[0].cluster,
        policy=findings[0].policy,
        strategy="sync",
        severity="critical",
        requested_by=requester,
        approvals_required=2,
    )
    request.findings.set(findings)

    first = client_for(approver).post(f"/api/v1/remediations/{request.pk}/approve/")
    second = client_for(second_approver).post(f"/api/v1/remediations/{request.pk}/approve/")

    assert first.json()["status"] == "pending"
    assert second.json()["status"] == "approved"
    assert [a["approver"] for a in second.json()["approvals"]] == ["anna", "bert"]
    listed = client_for(approver).get("/api/v1/approvals/", {"request": request.pk}).json()
    assert {a["approver"] for a in listed["results"]} == {"anna", "bert"}


def test_requests_are_listed_with_filters(client_for, viewer, requester, findings):
    for status in ("pending", "rejected"):
        RemediationRequest.objects.create(
            cluster=findings[0].cluster,
            policy=findings[0].policy,
            strategy="sync",
            severity="high",
            requested_by=requester,
            status=status,
        )

    response = client_for(viewer).get("/api/v1/remediations/", {"status": "pending"})

    assert [r["status"] for r in response.json()["results"]] == ["pending"]
    assert response.json()["results"][0]["links"]["api"].endswith(
        f"/api/v1/remediations/{response.json()['results'][0]['id']}/"
    )
