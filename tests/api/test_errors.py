"""One error body for every refusal, and the status codes a client can act on."""

from __future__ import annotations

import pytest

from remediation.models import RemediationRequest
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


def problem_keys(response) -> set[str]:
    return set(response.json())


def test_unknown_api_paths_answer_404_in_json(client_for, viewer):
    response = client_for(viewer).put("/api/v1/nothing-here/", {}, format="json")

    assert response.status_code == 404
    assert response.json()["type"] == "not-found"


def test_a_missing_object_is_404(client_for, viewer):
    response = client_for(viewer).get("/api/v1/findings/999999/")

    assert response.status_code == 404
    assert problem_keys(response) == {"type", "title", "status", "detail"}


def test_bad_filters_are_400_naming_the_field(client_for, viewer):
    response = client_for(viewer).get("/api/v1/findings/", {"severity": "apocalyptic"})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["severity"]


def test_an_anonymous_call_is_401(client):
    response = client.get("/api/v1/findings/")

    assert response.status_code == 401
    assert response.json()["type"] == "not-authenticated"


def test_throttled_calls_are_429_with_retry_after(client_for, viewer, settings):
    settings.API_THROTTLE_RATES = {"client": "3/minute", "anonymous": "1/minute"}
    client = client_for(viewer)

    codes = [client.get("/api/v1/me/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]
    response = client.get("/api/v1/me/")
    assert response.json()["type"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_each_token_has_its_own_budget(client_for, viewer, settings):
    settings.API_THROTTLE_RATES = {"client": "2/minute", "anonymous": "1/minute"}
    first, second = client_for(viewer), client_for(viewer)

    assert [first.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert second.get("/api/v1/me/").status_code == 200


def test_the_api_keeps_working_when_the_throttle_cache_is_down(client_for, viewer, monkeypatch):
    from driftcontrol.api.throttling import ClientRateThrottle

    def broken(self, key, default=None):
        raise ConnectionError("redis is down")

    client = client_for(viewer)
    monkeypatch.setattr(ClientRateThrottle, "__init__", lambda self: None)
    monkeypatch.setattr(
        ClientRateThrottle, "cache", type("Down", (), {"get": broken})(), raising=False
    )

    assert client.get("/api/v1/me/").status_code == 200


@pytest.fixture
def pending(requester):
    cluster = ClusterFactory()
    policy = DriftPolicyFactory(cluster_names=[cluster.name])
    request = RemediationRequest.objects.create(
        cluster=cluster,
        policy=policy,
        strategy="sync",
        severity="high",
        requested_by=requester,
        approvals_required=2,
    )
    request.findings.set([FindingFactory(cluster=cluster, policy=policy)])
    return request


def test_approving_twice_is_409_already_decided(client_for, approver, pending):
    client = client_for(approver)
    url = f"/api/v1/remediations/{pending.pk}/approve/"

    assert client.post(url, {}, format="json").status_code == 200
    again = client.post(url, {}, format="json")

    assert again.status_code == 409
    assert again.json()["type"] == "already-decided"


def test_approving_a_rejected_request_is_409_invalid_transition(
    client_for, approver, second_approver, pending
):
    rejected = client_for(approver).post(
        f"/api/v1/remediations/{pending.pk}/reject/", {"comment": "not now"}, format="json"
    )
    assert rejected.json()["status"] == "rejected"

    response = client_for(second_approver).post(
        f"/api/v1/remediations/{pending.pk}/approve/", {}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["type"] == "invalid-transition"
    assert "is rejected" in response.json()["detail"]


def test_a_rejection_without_a_comment_is_400(client_for, approver, pending):
    response = client_for(approver).post(
        f"/api/v1/remediations/{pending.pk}/reject/", {}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "comment", "detail": "This field is required."}]


def test_a_plan_for_a_cluster_out_of_reach_is_503_naming_it(client_for, requester, settings):
    from drift.models import Cluster

    cluster = Cluster(name="far-away")
    cluster.set_credentials(
        """apiVersion: v1
kind: Config
clusters: [{name: far, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: far, user: {token: not-a-real-token}}]
contexts: [{name: far, context: {cluster: far, user: far}}]
current-context: far
"""
    )
    cluster.save()
    policy = DriftPolicyFactory(cluster_names=[cluster.name])
    finding = FindingFactory(cluster=cluster, policy=policy)

    answer = client_for(requester).post(
        "/api/v1/remediations/", {"findings": [finding.pk], "strategy": "sync"}, format="json"
    )

    assert answer.status_code == 503, answer.json()
    assert answer.json()["type"] == "cluster-unreachable"
    assert "far-away" in answer.json()["detail"]
