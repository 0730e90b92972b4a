"""The approval queue and decisions: the plan, approvals of the current plan only, expiry,
change windows, four-eyes, and what the server refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from driftcontrol.permissions import Role, set_role
from remediation.models import Approval, RemediationRequest, RequestStatus
from tests.web.conftest import IMAGE, approve_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(make_finding: Any, make_request: Any, requester: Any) -> RemediationRequest:
    return make_request([make_finding(name="web")], requester)


def queue(client: Any) -> str:
    response = client.get(reverse("approvals"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_queue_shows_the_plan_findings_and_requester(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    client.force_login(approver)

    text = queue(client)

    assert f"#{pending.pk} Sync from Git</a> on east" in text
    assert "Requested by <strong>rita</strong>" in text
    assert "Server-side apply from Git: Deployment shop/web" in text
    assert f'<th colspan="2" scope="colgroup" class="mono">{IMAGE}</th>' in text
    assert '<td class="del">&quot;evil.example/web:6.6.6&quot;</td>' in text
    assert '<td class="add">&quot;registry.example/shop/web:1.4.2&quot;</td>' in text
    assert "from <strong>kubectl-set</strong>" in text
    assert "“revert the live edit”" in text


def test_only_pending_requests_are_queued(
    client: Any, approver: Any, pending: RemediationRequest, make_request: Any, make_finding: Any
) -> None:
    done = make_request([make_finding(name="api")], approver, status="succeeded")
    client.force_login(approver)

    text = queue(client)

    assert f"#{pending.pk} Sync" in text
    assert f"#{done.pk} Sync" not in text


def test_approvals_of_an_earlier_plan_do_not_count(
    client: Any, approver: Any, second_approver: Any, pending: RemediationRequest
) -> None:
    approve_as(pending, second_approver, version=1)
    RemediationRequest.objects.filter(pk=pending.pk).update(plan_version=2, approvals_required=2)
    client.force_login(approver)

    text = queue(client)

    assert "Approvals <strong>0 of 2</strong>" in text
    assert "1 decision on earlier plan versions no longer count" in text


def test_the_current_plans_approvals_are_counted_and_named(
    client: Any, approver: Any, second_approver: Any, pending: RemediationRequest
) -> None:
    RemediationRequest.objects.filter(pk=pending.pk).update(approvals_required=2)
    approve_as(pending, second_approver)
    client.force_login(approver)

    text = queue(client)

    assert "Approvals <strong>1 of 2</strong>" in text
    assert "<strong>bert</strong> approved" in text
    assert f"Approve request #{pending.pk}" in text


def test_the_expiry_counts_down(client: Any, approver: Any, pending: RemediationRequest) -> None:
    pending.expires_at = timezone.now() + timedelta(hours=2, minutes=30, seconds=30)
    pending.save(update_fields=["expires_at"])
    client.force_login(approver)

    text = queue(client)

    assert f'datetime="{timezone.localtime(pending.expires_at).isoformat()}" data-countdown' in text
    assert "in 2 h 30 min" in text


def test_a_closed_change_window_says_when_it_opens(
    client: Any, approver: Any, pending: RemediationRequest, shop: Any
) -> None:
    now = timezone.now()
    # A one-minute window that opened twelve hours ago: closed now, open again tomorrow.
    opened = now - timedelta(hours=12)
    shop.change_windows = [
        {"cron": f"{opened.minute} {opened.hour} * * *", "duration": "1m", "timeZone": "UTC"}
    ]
    shop.save()
    client.force_login(approver)

    text = queue(client)

    assert "Closed: the next window opens" in text
    assert "(in 11 h" in text


def test_without_change_windows_it_runs_once_approved(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    client.force_login(approver)

    assert "No change windows: runs as soon as it is approved." in queue(client)


def test_nobody_is_offered_to_decide_their_own_request(
    client: Any, requester: Any, pending: RemediationRequest
) -> None:
    set_role(requester, Role.APPROVER)
    client.force_login(requester)

    text = queue(client)

    assert "Approve request" not in text
    assert "You requested this: another approver decides on it (four-eyes rule)." in text


def test_an_approver_approves_and_the_execution_is_queued(
    client: Any,
    approver: Any,
    pending: RemediationRequest,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(approver)

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            reverse("remediation-approve", args=[pending.pk]),
            {"comment": "looks right", "next": reverse("approvals")},
            follow=True,
        )

    pending.refresh_from_db()
    assert pending.status == RequestStatus.APPROVED
    assert Approval.objects.get(request=pending).comment == "looks right"
    # The last approval starts the run: the approver lands on the request, to follow it.
    assert response.redirect_chain[-1][0] == reverse("remediation", args=[pending.pk])
    assert f"Request #{pending.pk} is approved: it runs now." in response.content.decode()
    assert len(queued) == 1  # remediation.tasks.execute, sent after the commit


def test_one_approval_of_two_is_recorded(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    RemediationRequest.objects.filter(pk=pending.pk).update(approvals_required=2)
    client.force_login(approver)

    response = client.post(reverse("remediation-approve", args=[pending.pk]), {}, follow=True)

    assert "is recorded: 1 of 2 given." in response.content.decode()
    assert "You approved this plan" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING


def test_deciding_twice_is_explained_not_recorded(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    RemediationRequest.objects.filter(pk=pending.pk).update(approvals_required=2)
    client.force_login(approver)
    url = reverse("remediation-approve", args=[pending.pk])

    client.post(url, {})
    response = client.post(url, {}, follow=True)

    assert "anna has already decided on request" in response.content.decode()
    assert Approval.objects.filter(request=pending).count() == 1


def test_a_rejection_needs_a_comment(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    client.force_login(approver)
    url = reverse("remediation-reject", args=[pending.pk])

    refused = client.post(url, {"comment": ""}, follow=True)
    pending.refresh_from_db()
    assert pending.status == RequestStatus.PENDING
    assert "say why: a rejection needs a comment" in refused.content.decode()

    client.post(url, {"comment": "wait for the release"})
    pending.refresh_from_db()
    assert (pending.status, pending.status_reason) == ("rejected", "wait for the release")


def test_a_forged_approval_of_ones_own_request_is_refused(
    client: Any, requester: Any, pending: RemediationRequest
) -> None:
    set_role(requester, Role.APPROVER)
    client.force_login(requester)

    response = client.post(reverse("remediation-approve", args=[pending.pk]), {})

    assert response.status_code == 403
    assert b"four-eyes" in response.content
    assert not Approval.objects.exists()


def test_an_expired_request_offers_no_decision(
    client: Any, approver: Any, pending: RemediationRequest
) -> None:
    RemediationRequest.objects.filter(pk=pending.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client.force_login(approver)

    text = queue(client)

    assert "Approve request" not in text
    assert "This request has expired" in text


def test_approving_a_decided_request_says_why_not(
    client: Any, approver: Any, make_request: Any, make_finding: Any, requester: Any
) -> None:
    done = make_request([make_finding()], requester, status="rejected")
    client.force_login(approver)

    response = client.post(reverse("remediation-approve", args=[done.pk]), {}, follow=True)

    assert "only a request waiting for approval can be approved" in response.content.decode()


def test_the_list_of_requests_filters_by_status(
    client: Any, viewer: Any, pending: RemediationRequest, make_request: Any, make_finding: Any
) -> None:
    done = make_request([make_finding(name="api")], viewer, status="succeeded")
    client.force_login(viewer)

    everything = client.get(reverse("remediations")).content.decode()
    succeeded = client.get(reverse("remediations") + "?status=succeeded").content.decode()

    assert f"#{pending.pk} sync" in everything and f"#{done.pk} sync" in everything
    assert f"#{pending.pk} sync" not in succeeded and f"#{done.pk} sync" in succeeded
