"""One remediation request: its timeline from the audit trail, per-object results, the
verification outcome, cancelling, and the live status while it runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from remediation import services
from remediation.models import RemediationRequest, RequestStatus

pytestmark = pytest.mark.django_db


def detail(client: Any, request: RemediationRequest) -> str:
    response = client.get(reverse("remediation", args=[request.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_timeline_tells_the_story_from_the_audit_trail(
    client: Any, viewer: Any, operator: Any, make_finding: Any
) -> None:
    # An alert is planned without a cluster and needs no approval: requested, then approved.
    made = services.request_remediation([make_finding()], "alert", operator, "tell the owners")
    client.force_login(viewer)

    text = detail(client, made)

    assert text.index('<strong>Requested</strong> <span class="muted">by oscar</span>') < (
        text.index('<strong>Approved</strong> <span class="muted">by system:remediation')
    )
    assert "tell the owners" in text
    assert "no approval needed at this severity" in text


def test_per_object_results_and_a_verified_outcome_are_shown(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding(name="web")], operator, status="succeeded")
    made.result = {"verified": True}
    made.save()
    made.steps.update(status="applied", attempts=1, result={"resourceVersion": "4242"})
    client.force_login(viewer)

    text = detail(client, made)

    assert '<span class="badge ok">verified</span>' in text
    assert "resourceVersion 4242." in text
    assert '<span class="pill st-applied">Applied</span>' in text


def test_a_failed_verification_names_what_still_differs(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding(name="web")], operator, status="failed")
    made.result = {
        "verified": False,
        "remaining": {"Deployment shop/web": ["/spec/replicas"]},
    }
    made.save()
    made.steps.update(status="failed", result={"error": "admission webhook said no"})
    client.force_login(viewer)

    text = detail(client, made)

    assert "did not verify" in text
    assert "<strong>Deployment shop/web</strong>: <code>/spec/replicas</code>" in text
    assert "admission webhook said no" in text


def test_the_requester_cancels_and_others_may_not(
    client: Any, requester: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding()], requester)
    url = reverse("remediation-cancel", args=[made.pk])

    client.force_login(operator)
    assert "Cancel request" not in detail(client, made)
    assert client.post(url, {}).status_code == 403

    client.force_login(requester)
    assert "Cancel request" in detail(client, made)
    response = client.post(url, {"comment": "not needed"}, follow=True)
    made.refresh_from_db()
    assert (made.status, made.status_reason) == (RequestStatus.CANCELLED, "not needed")
    assert f"Request #{made.pk} is cancelled." in response.content.decode()


def test_a_running_request_polls_its_status_until_it_changes(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding()], operator, status="executing")
    client.force_login(viewer)
    status = reverse("remediation-status", args=[made.pk])

    text = detail(client, made)
    same = client.get(f"{status}?seen=executing")
    RemediationRequest.objects.filter(pk=made.pk).update(status="succeeded")
    changed = client.get(f"{status}?seen=executing")

    assert f'hx-get="{status}?seen=executing" hx-trigger="every 2s"' in text
    assert same.status_code == 200 and b"Executing: 0 of 1 object done." in same.content
    assert changed.status_code == 204 and changed["HX-Refresh"] == "true"


def test_a_finished_request_does_not_poll(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding()], operator, status="succeeded")
    client.force_login(viewer)

    assert "hx-trigger" not in detail(client, made)


def test_a_rejected_requests_steps_say_not_run(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    made = make_request([make_finding(name="web")], operator, status="rejected")
    client.force_login(viewer)

    text = detail(client, made)

    assert '<span class="pill st-cancelled">Not run</span>' in text
    assert ">Pending</span>" not in text


def test_after_a_run_the_plan_says_what_was_live_when_planned(
    client: Any, viewer: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    pending = make_request([make_finding(name="web")], operator)
    done = make_request([make_finding(name="api")], operator, status="succeeded")
    client.force_login(viewer)

    assert ">Live now</th>" in detail(client, pending)
    assert ">Live when planned</th>" in detail(client, done)
