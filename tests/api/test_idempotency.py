"""Idempotency-Key: a retried POST gets the first answer and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from drift.models import Scan
from driftcontrol.models import IdempotencyRecord
from remediation.models import Approval, RemediationRequest
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(requester):
    cluster = ClusterFactory(name="east")
    policy = DriftPolicyFactory(name="shop", cluster_names=["east"])
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


def test_an_approval_retried_with_its_key_is_recorded_once(client_for, approver, pending):
    client = client_for(approver)
    url = f"/api/v1/remediations/{pending.pk}/approve/"

    first = client.post(url, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post(url, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Approval.objects.filter(request=pending).count() == 1


def test_a_key_reused_for_another_body_is_422(client_for, approver, pending):
    client = client_for(approver)
    url = f"/api/v1/remediations/{pending.pk}/approve/"
    client.post(url, {"comment": "ok"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = client.post(url, {"comment": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 422
    assert response.json()["type"] == "idempotency-key-reused"


def test_keys_belong_to_their_user(client_for, approver, second_approver, pending):
    url = f"/api/v1/remediations/{pending.pk}/approve/"
    client_for(approver).post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    other = client_for(second_approver).post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert other.status_code == 200
    assert "Idempotent-Replayed" not in other
    assert Approval.objects.filter(request=pending).count() == 2


def test_a_failed_request_is_not_kept_and_may_be_retried(client_for, approver, pending):
    client = client_for(approver)
    url = f"/api/v1/remediations/{pending.pk}/reject/"

    failed = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert failed.status_code == 400
    assert not IdempotencyRecord.objects.exists()


def test_a_key_still_in_progress_is_409(client_for, approver, pending):
    IdempotencyRecord.objects.create(
        user=approver,
        key="busy",
        endpoint=f"POST /api/v1/remediations/{pending.pk}/approve/",
        body_hash=__import__("hashlib").sha256(b"{}").hexdigest(),
    )

    response = client_for(approver).post(
        f"/api/v1/remediations/{pending.pk}/approve/",
        {},
        format="json",
        HTTP_IDEMPOTENCY_KEY="busy",
    )

    assert response.status_code == 409
    assert response.json()["type"] == "idempotency-key-in-use"


def test_a_scan_request_retried_with_its_key_queues_one_scan(client_for, operator, pending):
    client = client_for(operator)
    body = {"policy": "shop", "cluster": "east"}

    first = client.post("/api/v1/scans/", body, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    retry = client.post("/api/v1/scans/", body, format="json", HTTP_IDEMPOTENCY_KEY="s-1")

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json()["id"] == first.json()["id"]
    assert Scan.objects.count() == 1


def test_old_keys_are_pruned(approver):
    from driftcontrol.api.idempotency import prune

    IdempotencyRecord.objects.create(
        user=approver,
        key="old",
        endpoint="POST /x",
        body_hash="0",
        created_at=timezone.now() - timedelta(hours=25),
    )
    IdempotencyRecord.objects.create(user=approver, key="new", endpoint="POST /x", body_hash="0")

    assert prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
