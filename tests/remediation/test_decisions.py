"""Decisions, expiry, windows and resuming, on request rows (no cluster needed)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from driftcontrol.exceptions import AlreadyDecided, InvalidTransition, NotAllowed, NotFound
from driftcontrol.models import AuditEvent, OutboxEvent
from remediation import services
from remediation.models import RemediationRequest, RequestStatus
from tests.factories import ClusterFactory, DriftPolicyFactory, FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(tasks):
    return tasks.queued("remediation.execute")


@pytest.fixture
def pending(requester):
    policy = DriftPolicyFactory()
    cluster = ClusterFactory()
    request = RemediationRequest.objects.create(
        cluster=cluster,
        policy=policy,
        strategy="sync",
        severity="high",
        requested_by=requester,
        approvals_required=1,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    request.findings.add(FindingFactory(cluster=cluster, policy=policy))
    return request


def test_approval_queues_execution_once_committed(
    pending, approver, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.approve(pending.pk, approver, "ok")

    pending.refresh_from_db()
    assert (pending.status, queued) == (RequestStatus.APPROVED, [pending.pk])
    assert OutboxEvent.objects.filter(event_type="remediation.approved").count() == 1


def test_the_same_approver_cannot_decide_twice(pending, approver, second_approver):
    pending.approvals_required = 2
    pending.save()
    services.approve(pending.pk, approver)

    with pytest.raises(AlreadyDecided, match="anna has already decided"):
        services.approve(pending.pk, approver)
    with pytest.raises(AlreadyDecided):
        services.reject(pending.pk, approver, "changed my mind")


def test_operators_do_not_decide(pending, operator):
    with pytest.raises(NotAllowed, match="needs the approver role"):
        services.approve(pending.pk, operator)


def test_a_rejection_needs_a_comment_and_ends_the_request(pending, approver):
    with pytest.raises(Exception, match="needs a comment"):
        services.reject(pending.pk, approver, "  ")
    services.reject(pending.pk, approver, "not now")

    pending.refresh_from_db()
    assert pending.status == RequestStatus.REJECTED
    with pytest.raises(InvalidTransition):
        services.reject(pending.pk, approver, "again")


def test_approving_an_expired_request_expires_it(pending, approver):
    RemediationRequest.objects.filter(pk=pending.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    with pytest.raises(InvalidTransition, match="is expired"):
        services.approve(pending.pk, approver)
    pending.refresh_from_db()
    assert pending.status == RequestStatus.EXPIRED  # recorded, even though refused


def test_only_the_requester_or_an_admin_cancels(pending, operator, requester, admin_user):
    with pytest.raises(NotAllowed, match="only the requester or an admin"):
        services.cancel(pending.pk, operator)
    services.cancel(pending.pk, requester, "not needed")

    pending.refresh_from_db()
    assert pending.status == RequestStatus.CANCELLED
    assert AuditEvent.objects.filter(action="remediation.cancelled").exists()


def test_an_unknown_request_is_not_found(approver):
    with pytest.raises(NotFound, match="no remediation request #999"):
        services.approve(999, approver)


def test_an_approved_request_waits_for_its_change_window(pending, approver, queued):
    pending.policy.change_windows = [{"cron": "0 3 * * *", "duration": "1m", "timeZone": "UTC"}]
    pending.policy.save()
    services.approve(pending.pk, approver)

    assert services.execute(pending.pk) is None  # the window is not open
    pending.refresh_from_db()
    assert pending.status == RequestStatus.APPROVED
    assert services.resume_due() == 0  # not yet


def test_resume_due_sends_requests_whose_worker_lease_expired(pending, queued):
    RemediationRequest.objects.filter(pk=pending.pk).update(
        status=RequestStatus.EXECUTING, lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert services.resume_due() == 1
    assert queued == [pending.pk]


def test_the_cli_refuses_an_unknown_user_and_lists_requests(pending, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("drift", "approve", str(pending.pk), "--as", "ghost")
    call_command("drift", "requests", "--pending")

    line = [
        row for row in capsys.readouterr().out.splitlines() if row.split()[0] == str(pending.pk)
    ][0]
    assert line.split()[1:4] == ["pending", "sync", "high"]
